"""Operator operations behind the CLI: sync, resync and status, testable without a terminal."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from connectors.contract import Connector
from indexer.backends import Stores
from indexer.embedding import Embedder
from indexer.operations.pause import check_not_paused
from indexer.run_types import ProgressSink, RunType
from indexer.runner import SyncRunner
from indexer.settings import ChunkingSettings
from indexer.state_store import RunRecord
from indexer.status import (
    ErrorCount,
    QueueView,
    ScopeStatus,
    SourceStatus,
    StatusReport,
    scope_status,
    status_report,
)
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
    Raises ``SourcePausedError`` for a paused source (``indexer.operations.pause``).
    """
    connector = runtime.connector_for(source_id)
    check_not_paused(runtime.stores, source_id)
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
    check_not_paused(runtime.stores, source_id)
    who = owner or default_owner()
    state = runtime.stores.state
    lease = state.acquire_lease(source_id, who, timedelta(minutes=1), runtime.clock())
    try:
        state.clear_checkpoint(lease)
    finally:
        state.release_lease(lease)
    return sync(runtime, source_id, RunType.full, progress=progress, owner=who, stop=stop)


def status(
    runtime: Runtime, *, history: int = 50, top: int = 5, queue: QueueView | None = None
) -> StatusReport:
    """``indexer.status.status_report`` for the configured sources."""
    return status_report(
        runtime.stores.state,
        runtime.stores.index,
        runtime.source_ids,
        runtime.clock(),
        history=history,
        top=top,
        queue=queue,
    )


__all__ = [
    "ErrorCount",
    "QueueView",
    "Runtime",
    "ScopeStatus",
    "SourceStatus",
    "StatusReport",
    "resync",
    "scope_status",
    "status",
    "sync",
]
