"""A run's hold on its source: the lease (renewed as a heartbeat), stop requests, and waits.

Index writes go through ``fence()`` first, so a run that lost its lease (paused past its expiry,
taken over by another worker) stops before it writes, not only before it saves state. Waits (a
source's Retry-After) are sliced so the lease is renewed throughout and a stop request ends
them at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from indexer.state_store import Lease, StateStore

# Waits a stop event for ``seconds`` of real time; True when the stop was requested.
Waiter = Callable[[threading.Event, float], bool]


def _wait_on_event(stop: threading.Event, seconds: float) -> bool:
    return stop.wait(seconds)


class StopRequested(Exception):
    """The run was asked to stop (SIGTERM, operator): it ends after its last durable write."""


class RunControl:
    def __init__(
        self,
        state: StateStore,
        lease: Lease,
        ttl: timedelta,
        clock: Callable[[], datetime],
        *,
        waiter: Waiter | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self._state = state
        self.lease = lease
        self._ttl = ttl
        self._clock = clock
        self._waiter = waiter or _wait_on_event
        self._renewed_at = clock()
        self.stop = stop or threading.Event()

    def heartbeat(self) -> None:
        """Renew the lease once a third of its TTL has passed (``LeaseLostError`` if lost)."""
        now = self._clock()
        if now - self._renewed_at >= self._ttl / 3:
            self.lease = self._state.renew_lease(self.lease, self._ttl, now)
            self._renewed_at = now

    def fence(self) -> None:
        """Before an index write: the lease must still be ours, and not about to expire."""
        self.heartbeat()

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise StopRequested("stop requested")

    def wait(self, seconds: float) -> None:
        """Wait ``seconds``, keeping the lease; ``StopRequested`` as soon as a stop is asked."""
        remaining = seconds
        slice_s = max(1.0, self._ttl.total_seconds() / 3)
        while remaining > 0:
            step = min(slice_s, remaining)
            if self._waiter(self.stop, step):
                raise StopRequested("stop requested while waiting for the source")
            remaining -= step
            self.heartbeat()
