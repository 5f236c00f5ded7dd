"""The one retry policy of the indexer: exponential backoff with jitter, honouring Retry-After.

Transient failures raise ``RetryableError`` (optionally carrying the server's Retry-After); a
short-lived index outage raises ``IndexUnavailableError``. Both are retried a bounded number of
times; when the attempts run out the last exception propagates and the runner treats it as a
systemic failure.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from connectors.errors import RetryableError
from indexer.backend import IndexUnavailableError

__all__ = ["RetryPolicy", "RetryableError"]

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("permindex.indexer.retry")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_wait_s: float = 0.5
    max_wait_s: float = 30.0
    # A server asking for more than this is treated as down rather than waited for.
    max_retry_after_s: float = 300.0
    retry_on: tuple[type[BaseException], ...] = (RetryableError, IndexUnavailableError)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def _wait(self, state: RetryCallState) -> float:
        exponential = self.initial_wait_s * 2 ** (state.attempt_number - 1)
        backoff = min(self.max_wait_s, exponential + random.uniform(0, self.initial_wait_s))
        exc = state.outcome.exception() if state.outcome is not None else None
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after > 0:
            return max(backoff, min(float(retry_after), self.max_retry_after_s))
        return backoff

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(self.retry_on),
            sleep=self.sleep,
            reraise=True,
            before_sleep=_log_retry,
        )
        return retrying(fn, *args, **kwargs)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    log.warning(
        "retrying after transient failure",
        extra={
            "attempt": state.attempt_number,
            "wait_s": round(state.upcoming_sleep, 3),
            "error": f"{type(exc).__name__}: {exc}",
            "call": getattr(state.fn, "__qualname__", repr(state.fn)),
        },
    )
