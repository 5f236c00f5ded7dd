"""Progress for sync runs: documents and chunks per second, ETA when a total is known.

On a terminal, a rich bar. Anywhere else (a log file, CI, ``| tee``, systemd), rich draws
nothing until the end, so the same sink prints plain lines instead: one at the start, one at
most every ``interval_s`` while documents arrive, one at the end."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from indexer.state_store import RunRecord


class RateColumn(ProgressColumn):
    """Items per second (unit from the task's ``unit`` field), averaged over rich's window."""

    def render(self, task: Task) -> Text:
        unit = str(task.fields.get("unit", "items"))
        speed = task.finished_speed or task.speed
        if speed is None and task.elapsed:
            # Too few samples for rich's windowed estimate (short runs): the overall average.
            speed = task.completed / task.elapsed
        if speed is None:
            return Text(f"- {unit}/s", style="progress.data.speed")
        return Text(f"{speed:,.1f} {unit}/s", style="progress.data.speed")


class CountColumn(ProgressColumn):
    """``done/total`` when a total is known, ``done`` otherwise."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text(f"{int(task.completed):,}", style="progress.download")
        return MofNCompleteColumn().render(task)


class PlainProgressLines:
    """Progress as plain, timestamp-free lines (the log collector adds the time)."""

    def __init__(
        self,
        console: Console,
        label: str,
        *,
        interval_s: float = 10.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.label = label
        self.interval_s = interval_s
        self.timer = timer
        self.total: int | None = None
        self._started = 0.0
        self._last = 0.0

    def _line(self, message: str) -> None:
        # Source ids and messages are printed as given, never read as rich markup.
        self.console.print(Text(f"{self.label}: {message}"), soft_wrap=True)

    def _counts(self, documents: int, chunks: int) -> str:
        done = f"{documents:,}" if self.total is None else f"{documents:,}/{self.total:,}"
        elapsed = self.timer() - self._started
        rate = f", {documents / elapsed:,.1f} docs/s" if elapsed > 0 else ""
        return f"{done} documents, {chunks:,} chunks{rate}"

    def started(self, run_type: str, total: int | None) -> None:
        self.label = f"{self.label} {run_type}".strip()
        self.total = total
        self._started = self._last = self.timer()
        known = "" if total is None else f", {total:,} documents to read"
        self._line(f"started{known}")

    def advanced(self, documents: int, chunks: int) -> None:
        now = self.timer()
        if now - self._last >= self.interval_s:
            self._last = now
            self._line(self._counts(documents, chunks))

    def finished(self, record: RunRecord, documents: int, chunks: int) -> None:
        elapsed = self.timer() - self._started
        self._line(f"{record.status} after {elapsed:,.1f} s: {self._counts(documents, chunks)}")


class RichProgressSink:
    """Implements the runner's ``ProgressSink``; use as a context manager around the run.

    ``plain`` forces (True) or forbids (False) plain lines; by default they are used when the
    console is not a terminal."""

    def __init__(
        self,
        console: Console | None = None,
        *,
        source_id: str = "",
        plain: bool | None = None,
        interval_s: float = 10.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console or Console(stderr=True)
        self.source_id = source_id
        use_plain = not self.console.is_terminal if plain is None else plain
        self._plain = (
            PlainProgressLines(self.console, source_id, interval_s=interval_s, timer=timer)
            if use_plain
            else None
        )
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            CountColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
            # Rate over the last half minute: embedding batches make instantaneous rates jumpy.
            speed_estimate_period=30.0,
        )
        self._documents: TaskID | None = None
        self._chunks: TaskID | None = None
        self.documents = 0
        self.chunks = 0
        self.record: RunRecord | None = None

    def __enter__(self) -> RichProgressSink:
        if self._plain is None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._plain is None:
            self._progress.stop()

    # ProgressSink protocol -------------------------------------------------------------

    def started(self, run_type: str, total: int | None) -> None:
        if self._plain is not None:
            self._plain.started(run_type, total)
            return
        label = f"{self.source_id} {run_type}".strip()
        self._documents = self._progress.add_task(f"{label} documents", total=total, unit="docs")
        self._chunks = self._progress.add_task(f"{label} chunks", total=None, unit="chunks")

    def advanced(self, documents: int, chunks: int) -> None:
        self.documents += documents
        self.chunks += chunks
        if self._plain is not None:
            self._plain.advanced(self.documents, self.chunks)
            return
        if self._documents is not None:
            self._progress.advance(self._documents, documents)
        if self._chunks is not None:
            self._progress.advance(self._chunks, chunks)

    def finished(self, record: RunRecord) -> None:
        self.record = record
        if self._plain is not None:
            self._plain.finished(record, self.documents, self.chunks)
            return
        for task_id in (self._documents, self._chunks):
            if task_id is None:
                continue
            task = next(t for t in self._progress.tasks if t.id == task_id)
            # A run with an unknown total ends the bar at what was done, so it renders complete.
            self._progress.update(task_id, total=task.completed if task.total is None else None)
            self._progress.stop_task(task_id)
