"""Client-side rate limits: a token bucket per credential (and per method where the API has tiers).

Waiting here is cheaper than a 429: Slack counts per method, workspace and app; Drive per user
and project; Atlassian per tenant. ``Budget`` is the seam for a budget shared between workers
(a Redis-backed bucket, later): gateways depend on the Protocol, not on ``TokenBucket``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Protocol

from connectors.gateway.interrupt import Sleep, interruptible_sleep


class Budget(Protocol):
    """Something a gateway draws from before each request; blocks until ``cost`` is available.

    Raises ``StopRequested`` when a stop is requested during the wait.
    """

    def acquire(self, cost: float = 1.0) -> None: ...


class TokenBucket:
    """``rate_per_s`` tokens a second, at most ``burst`` saved up; thread-safe within a process."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._stop = stop if stop is not None else threading.Event()
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()

    def try_acquire(self, cost: float = 1.0) -> float:
        """Take ``cost`` tokens and return 0, or take nothing and return the seconds to wait."""
        self._check_cost(cost)
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate_per_s)
            self._updated = now
            if self._tokens >= cost:
                self._tokens -= cost
                return 0.0
            return (cost - self._tokens) / self.rate_per_s

    def acquire(self, cost: float = 1.0) -> None:
        while (wait := self.try_acquire(cost)) > 0:
            # Sleep outside the lock, then try again: another thread may have drawn meanwhile.
            interruptible_sleep(wait, self._stop, self._sleep)

    @property
    def available(self) -> float:
        """Tokens available now (refilled to the current clock), for status and tests."""
        with self._lock:
            elapsed = max(0.0, self._clock() - self._updated)
            return min(self.burst, self._tokens + elapsed * self.rate_per_s)

    def _check_cost(self, cost: float) -> None:
        if cost <= 0:
            raise ValueError("cost must be positive")
        if cost > self.burst:
            # Never satisfiable: waiting would hang forever.
            raise ValueError(f"cost {cost} exceeds the bucket's burst {self.burst}")


class BudgetsPerKey:
    """One budget per key (a credential, or a credential and a method), made on first use."""

    def __init__(self, make: Callable[[Hashable], Budget]) -> None:
        self._make = make
        self._budgets: dict[Hashable, Budget] = {}
        self._lock = threading.Lock()

    def __getitem__(self, key: Hashable) -> Budget:
        with self._lock:
            budget = self._budgets.get(key)
            if budget is None:
                budget = self._budgets[key] = self._make(key)
            return budget

    def acquire(self, key: Hashable, cost: float = 1.0) -> None:
        self[key].acquire(cost)
