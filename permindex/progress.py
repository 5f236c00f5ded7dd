"""Rich progress for sync runs: documents and chunks per second, ETA when a total is known."""

from __future__ import annotations

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


class RichProgressSink:
    """Implements the runner's ``ProgressSink``; use as a context manager around the run."""

    def __init__(self, console: Console | None = None, *, source_id: str = "") -> None:
        self.console = console or Console(stderr=True)
        self.source_id = source_id
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
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    # ProgressSink protocol -------------------------------------------------------------

    def started(self, run_type: str, total: int | None) -> None:
        label = f"{self.source_id} {run_type}".strip()
        self._documents = self._progress.add_task(f"{label} documents", total=total, unit="docs")
        self._chunks = self._progress.add_task(f"{label} chunks", total=None, unit="chunks")

    def advanced(self, documents: int, chunks: int) -> None:
        self.documents += documents
        self.chunks += chunks
        if self._documents is not None:
            self._progress.advance(self._documents, documents)
        if self._chunks is not None:
            self._progress.advance(self._chunks, chunks)

    def finished(self, record: RunRecord) -> None:
        self.record = record
        for task_id in (self._documents, self._chunks):
            if task_id is None:
                continue
            task = next(t for t in self._progress.tasks if t.id == task_id)
            # A run with an unknown total ends the bar at what was done, so it renders complete.
            self._progress.update(task_id, total=task.completed if task.total is None else None)
            self._progress.stop_task(task_id)
