"""The one retry policy of every SaaS gateway.

Connectors call their SDK through ``GatewayRetryPolicy.call`` with the SDK's own retries switched
off (atlassian-python-api, slack-sdk and the Google client each retry on their own; two layers
retrying multiply the waits and hide the server's Retry-After). Only ``RetryableError`` is
retried: the gateway maps statuses and SDK errors to it first (``http_errors``).

When the attempts or the time budget run out, the last ``RetryableError`` propagates unchanged;
the runner treats it as systemic and does not advance the checkpoint.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from connectors.errors import RetryableError
from connectors.gateway.interrupt import Sleep, StopRequested, interruptible_sleep
from connectors.gateway.retry_after import DEFAULT_MAX_RETRY_AFTER_S

__all__ = ["GatewayRetryPolicy", "StopRequested"]

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("permindex.connectors.gateway")


@dataclass(frozen=True)
class GatewayRetryPolicy:
    """Bounded retries of ``RetryableError``: Retry-After when given, full-jitter backoff when not.

    ``sleep`` None means a real wait on ``stop`` (woken the moment a stop is requested); tests
    inject a recording sleep and a fake ``clock``.
    """

    attempts: int = 6
    # Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): the wait is uniform
    # in [0, min(max_backoff_s, base_wait_s * 2**n)], which spreads workers that failed together.
    base_wait_s: float = 1.0
    max_backoff_s: float = 60.0
    # Retry-After is a floor, not a target: a little jitter on top keeps every worker that got
    # the same header from coming back in the same instant.
    retry_after_jitter_s: float = 0.5
    max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S
    # A source that refuses for longer than this is down, whatever Retry-After promises.
    max_total_s: float = 900.0
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    sleep: Sleep | None = field(default=None, compare=False)
    stop: threading.Event = field(default_factory=threading.Event, compare=False)
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_wait_s < 0 or self.max_backoff_s < 0 or self.retry_after_jitter_s < 0:
            raise ValueError("waits must not be negative")

    def wait_s(self, attempt: int, error: BaseException | None) -> float:
        """The wait after failed attempt number ``attempt`` (1-based) that raised ``error``."""
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after >= 0:
            floor = min(float(retry_after), self.max_retry_after_s)
            return floor + self.rng.uniform(0.0, self.retry_after_jitter_s)
        ceiling = min(self.max_backoff_s, self.base_wait_s * 2 ** (attempt - 1))
        return self.rng.uniform(0.0, ceiling)

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn`` until it returns, raises something not retryable, or the budget runs out."""
        started = self.clock()

        def wait(state: RetryCallState) -> float:
            return self.wait_s(state.attempt_number, _exception(state))

        def give_up(state: RetryCallState) -> bool:
            if state.attempt_number >= self.attempts:
                return True
            # Stop before a wait that would end past the budget rather than after it.
            return self.clock() - started + state.upcoming_sleep > self.max_total_s

        waiting_after: list[BaseException | None] = [None]

        def before_sleep(state: RetryCallState) -> None:
            waiting_after[0] = _exception(state)
            _log_retry(state)

        def sleep(seconds: float) -> None:
            try:
                interruptible_sleep(seconds, self.stop, self.sleep)
            except StopRequested as stopped:
                # Chained, so the operator sees what the run was waiting out when it stopped.
                raise stopped from waiting_after[0]

        if self.stop.is_set():
            raise StopRequested("stop requested before the call")
        retrying = Retrying(
            stop=give_up,
            wait=wait,
            retry=retry_if_exception_type(RetryableError),
            sleep=sleep,
            reraise=True,
            before_sleep=before_sleep,
        )
        return retrying(fn, *args, **kwargs)


def _exception(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


def _log_retry(state: RetryCallState) -> None:
    exc = _exception(state)
    log.warning(
        "retrying after transient failure",
        extra={
            "attempt": state.attempt_number,
            "wait_s": round(state.upcoming_sleep, 3),
            "retry_after_s": getattr(exc, "retry_after", None),
            "error": f"{type(exc).__name__}: {exc}",
            "call": getattr(state.fn, "__qualname__", repr(state.fn)),
        },
    )
