"""A fake clock whose sleeps advance it, so waits are asserted by what was asked, never by time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class FakeClock:
    now: float = 1_000.0
    sleeps: list[float] = field(default_factory=list)
    # Run during a sleep, to simulate what happens while the caller waits (a stop request).
    during_sleep: Callable[[float], None] | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.during_sleep is not None:
            self.during_sleep(seconds)
        self.now += seconds


def stopping_after(sleeps: int, stop: threading.Event) -> Callable[[float], None]:
    """A ``during_sleep`` hook that requests a stop during the ``sleeps``-th sleep."""
    count = 0

    def hook(_seconds: float) -> None:
        nonlocal count
        count += 1
        if count >= sleeps:
            stop.set()

    return hook
