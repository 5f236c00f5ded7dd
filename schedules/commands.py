"""Operator operations behind the CLI: sync, resync and status, testable without a terminal."""

from __future__ import annotations

import os
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from connectors.contract import Connector
from indexer.backends import Stores
from indexer.embedding import Embedder
from indexer.run_types import ProgressSink, RunType
from indexer.runner import SyncRunner
from indexer.settings import ChunkingSettings
from indexer.state_store import RunRecord
from schedules.settings import ScheduleSettings, SyncSettings

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def default_owner() -> str:
    """Who holds a lease: enough to find the process when a run looks stuck."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Runtime:
    """What the composition root hands the operator commands: stores, settings and factories.

    ``connector_for`` builds the connector of a configured source id and raises a clear error
    for an unknown one; the embedder is built on first use, so ``status`` never loads a model.
    """

    stores: Stores
    source_ids: list[str]
    connector_for: Callable[[str], Connector]
    embedder_factory: Callable[[], Embedder]
    chunking: ChunkingSettings
    model_name: str
    sync: SyncSettings = field(default_factory=SyncSettings)
    schedules: ScheduleSettings = field(default_factory=ScheduleSettings)
    clock: Clock = utc_now
    _embedder: Embedder | None = field(default=None, repr=False)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self.embedder_factory()
        return self._embedder

    def close(self) -> None:
        self.stores.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def sync(
    runtime: Runtime,
    source_id: str,
    run_type: RunType = RunType.incremental,
    *,
    progress: ProgressSink | None = None,
    owner: str | None = None,
    stop: threading.Event | None = None,
) -> RunRecord:
    """One run of one source. Raises ``LeaseHeldError`` when another run holds the source.

    Setting ``stop`` ends the run after its current batch is durable (status ``stopped``).
    """
    connector = runtime.connector_for(source_id)
    runner = SyncRunner(
        connector,
        runtime.stores,
        runtime.embedder,
        chunking=runtime.chunking,
        model_name=runtime.model_name,
        clock=runtime.clock,
        owner=owner or default_owner(),
        progress=progress,
        lease_ttl=runtime.sync.lease_ttl,
        write_batch_docs=runtime.sync.write_batch_docs,
        embed_batch_chunks=runtime.sync.embed_batch_chunks,
        stop=stop,
    )
    return runner.run(run_type)


def resync(
    runtime: Runtime,
    source_id: str,
    *,
    progress: ProgressSink | None = None,
    owner: str | None = None,
    stop: threading.Event | None = None,
) -> RunRecord:
    """Forget the checkpoint, then run a full sync (re-reads everything, prunes what is gone)."""
    runtime.connector_for(source_id)  # unknown source: a clear error before touching state
    who = owner or default_owner()
    state = runtime.stores.state
    lease = state.acquire_lease(source_id, who, timedelta(minutes=1), runtime.clock())
    try:
        state.clear_checkpoint(lease)
    finally:
        state.release_lease(lease)
    return sync(runtime, source_id, RunType.full, progress=progress, owner=who, stop=stop)


class ErrorCount(BaseModel):
    reason: str
    count: int


class SourceStatus(BaseModel):
    source_id: str
    configured: bool
    last_run: RunRecord | None = None
    last_success_at: datetime | None = None
    # Seconds since the last successful run ended; None when it never succeeded.
    lag_seconds: float | None = None
    runs_considered: int = 0
    failed_runs: int = 0
    document_errors: int = 0
    top_errors: list[ErrorCount] = Field(default_factory=list)
    documents: int | None = None
    chunks: int | None = None


class StatusReport(BaseModel):
    generated_at: datetime
    backend: str
    sources: list[SourceStatus]


def status(runtime: Runtime, *, history: int = 50, top: int = 5) -> StatusReport:
    """Last runs per source, lag since the last success, error counts and the commonest errors."""
    now = runtime.clock()
    state = runtime.stores.state
    stats = runtime.stores.index.stats()
    configured = list(runtime.source_ids)
    # Sources removed from the configuration still have history worth showing.
    seen = {run.source_id for run in state.recent_runs(None, limit=500)}
    source_ids = configured + sorted(seen - set(configured))
    report: list[SourceStatus] = []
    for source_id in source_ids:
        runs = state.recent_runs(source_id, limit=history)
        entry = SourceStatus(
            source_id=source_id,
            configured=source_id in configured,
            runs_considered=len(runs),
        )
        if runs:
            entry.last_run = runs[0]
        success = next((r for r in runs if r.status == "succeeded"), None)
        if success is not None:
            entry.last_success_at = success.ended_at or success.started_at
            entry.lag_seconds = max(0.0, (now - entry.last_success_at).total_seconds())
        entry.failed_runs = sum(1 for r in runs if r.status == "failed")
        reasons: Counter[str] = Counter()
        for run in runs:
            entry.document_errors += run.counts.failed
            reasons.update(error.reason for error in run.errors)
            if run.status == "failed" and run.message:
                reasons[run.message] += 1
        entry.top_errors = [ErrorCount(reason=r, count=c) for r, c in reasons.most_common(top)]
        source_stats = stats.sources.get(source_id)
        if source_stats is not None:
            entry.documents = source_stats.documents
            entry.chunks = source_stats.chunks
        report.append(entry)
    return StatusReport(generated_at=now, backend=stats.backend, sources=report)
