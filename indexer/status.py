"""What an operator asks of a deployment: per source and scope, the last runs, lag since the last
success, the commonest errors, and (with a broker) queue depth and next runs.

Pure reads of the state store and index statistics, so the CLI (``permindex status``), the admin
API and the console all answer from the same code."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field

from indexer.backend import IndexBackend
from indexer.state_store import RunRecord, StateStore


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
    scopes: list[ScopeStatus] = Field(default_factory=list)
    # Run type -> when the scheduler leader fires it next (with a broker only).
    next_runs: dict[str, datetime] = Field(default_factory=dict)
    # Why the source does not run (paused, being deleted), None when it runs (indexer.operations).
    paused: str | None = None


class ScopeStatus(BaseModel):
    """One scope's runs (a worker's unit of work); scope "" is the source as a whole."""

    scope: str
    last_run_at: datetime | None = None
    last_status: str | None = None
    last_success_at: datetime | None = None
    lag_seconds: float | None = None
    last_error: str | None = None
    # Run types with a request waiting in the queue for this scope.
    queued: list[str] = Field(default_factory=list)


class StatusReport(BaseModel):
    generated_at: datetime
    backend: str
    sources: list[SourceStatus]
    # With a broker (``queue.broker_url``): requests waiting, and delivered but not acknowledged.
    queue_depth: int | None = None
    queue_unacked: int | None = None
    queue_error: str | None = None


class QueueView(Protocol):
    """What status reads from the broker (``schedules.queue_state.QueueState``)."""

    def depth(self) -> int: ...

    def unacked(self) -> int: ...

    def pending(self, source_id: str) -> dict[str, list[str]]: ...

    def next_runs(self, source_id: str) -> dict[str, datetime]: ...


# Run records read per source to find each scope's latest runs.
SCOPE_HISTORY = 500


def _last_error(run: RunRecord) -> str | None:
    if run.status == "failed" and run.message:
        return run.message
    if run.failed_scopes:
        return run.failed_scopes[0].reason
    if run.errors:
        return f"{run.errors[0].doc_id}: {run.errors[0].reason}"
    return None


def scope_status(runs: list[RunRecord], now: datetime) -> list[ScopeStatus]:
    """Per scope, from a source's runs (newest first)."""
    found: dict[str, ScopeStatus] = {}
    for run in runs:
        entry = found.get(run.scope)
        if entry is None:
            entry = found[run.scope] = ScopeStatus(
                scope=run.scope, last_run_at=run.started_at, last_status=run.status
            )
        if entry.last_success_at is None and run.status == "succeeded":
            entry.last_success_at = run.ended_at or run.started_at
            entry.lag_seconds = max(0.0, (now - entry.last_success_at).total_seconds())
        if entry.last_error is None:
            entry.last_error = _last_error(run)
    return [found[scope] for scope in sorted(found)]


def status_report(
    state: StateStore,
    index: IndexBackend,
    configured: Sequence[str],
    now: datetime,
    *,
    history: int = 50,
    top: int = 5,
    queue: QueueView | None = None,
) -> StatusReport:
    """Last runs per source, lag since the last success, error counts and the commonest errors;
    per scope: last run, lag, last error, queued requests; with a broker, queue depth and next
    runs."""
    stats = index.stats()
    configured = list(configured)
    # Sources removed from the configuration still have history worth showing.
    seen = {run.source_id for run in state.recent_runs(None, limit=500)}
    source_ids = configured + sorted(seen - set(configured))
    from indexer.operations.controls import stopped_sources

    stopped = stopped_sources(state)
    report: list[SourceStatus] = []
    for source_id in source_ids:
        runs = state.recent_runs(source_id, limit=history)
        entry = SourceStatus(
            source_id=source_id,
            configured=source_id in configured,
            runs_considered=len(runs),
            paused=stopped.get(source_id),
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
        entry.scopes = scope_status(state.recent_runs(source_id, limit=SCOPE_HISTORY), now)
        report.append(entry)
    result = StatusReport(generated_at=now, backend=stats.backend, sources=report)
    if queue is not None:
        _add_queue(result, queue)
    return result


def _add_queue(report: StatusReport, queue: QueueView) -> None:
    try:
        report.queue_depth = queue.depth()
        report.queue_unacked = queue.unacked()
        for entry in report.sources:
            entry.next_runs = queue.next_runs(entry.source_id)
            pending = queue.pending(entry.source_id)
            known = {scope.scope: scope for scope in entry.scopes}
            for scope, run_types in pending.items():
                if scope not in known:
                    known[scope] = ScopeStatus(scope=scope)
                known[scope].queued = run_types
            entry.scopes = [known[scope] for scope in sorted(known)]
    except Exception as exc:
        # Status must still answer when the broker is down: that is when it is needed.
        report.queue_error = f"broker unreachable: {exc}"
