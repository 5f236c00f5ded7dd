"""Waits that a stop request ends at once.

A connector that waits out a long Retry-After or an empty token bucket must not hold a run past
SIGTERM: every gateway wait goes through ``interruptible_sleep``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from connectors.errors import ConnectorError

Sleep = Callable[[float], None]


class StopRequested(ConnectorError):
    """A stop was requested while the gateway waited; the run should wind down, not retry.

    Not a ``RetryableError`` nor a ``SourceUnavailableError``: the source did nothing wrong.
    """


def interruptible_sleep(seconds: float, stop: threading.Event, sleep: Sleep | None = None) -> None:
    """Wait ``seconds`` unless ``stop`` is set first; raise ``StopRequested`` when it is.

    With ``sleep`` injected (tests, simulated clocks) the wait is delegated to it and the stop
    event is checked before and after; without it, ``stop.wait`` wakes the moment it is set.
    """
    if stop.is_set():
        raise StopRequested(f"stop requested before a {seconds:.3f}s wait")
    if seconds > 0:
        if sleep is None:
            stop.wait(seconds)
        else:
            sleep(seconds)
    if stop.is_set():
        raise StopRequested(f"stop requested during a {seconds:.3f}s wait")
