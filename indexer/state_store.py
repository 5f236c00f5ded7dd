"""Per-source sync state: checkpoint, run history and the lease that serialises runs.

The OpenSearch backend keeps it in the cluster (optimistic concurrency via seq_no/primary_term)
so several workers can share it; the embedded backend keeps it in the same SQLite file.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from connectors.events import Checkpoint


def scope_key(source_id: str, scope: str) -> str:
    """The key of a scope's lease and checkpoint; the whole source's when ``scope`` is ""."""
    return f"{source_id}#scope:{scope}" if scope else source_id


class LeaseHeldError(Exception):
    """Another run of the same source holds an unexpired lease."""


class LeaseLostError(Exception):
    """Our lease expired and was taken over: the run must stop without writing state."""


class Lease(BaseModel):
    model_config = ConfigDict(frozen=True)

    source_id: str
    owner: str
    token: str  # fencing token: changes on every acquisition
    expires_at: datetime


class DocumentError(BaseModel):
    model_config = ConfigDict(frozen=True)

    doc_id: str
    reason: str


class ScopeError(BaseModel):
    model_config = ConfigDict(frozen=True)

    scope: str
    reason: str


class RunCounts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    acl_updated: int = 0
    fields_updated: int = 0  # metadata, dates, url...: written without re-embedding
    deleted: int = 0
    failed: int = 0
    chunks_embedded: int = 0


class RunRecord(BaseModel):
    run_id: str
    source_id: str
    run_type: str  # incremental | full | permissions | groups | prune
    # running | succeeded | partial (some scopes failed) | failed | stopped | interrupted
    status: str
    started_at: datetime
    ended_at: datetime | None = None
    counts: RunCounts = Field(default_factory=RunCounts)
    # The first documents that failed (at most MAX_RECORDED_ERRORS), and how many failed for
    # each kind of reason: a run over millions of documents keeps a record of bounded size.
    errors: list[DocumentError] = Field(default_factory=list)
    error_counts: dict[str, int] = Field(default_factory=dict)
    failed_scopes: list[ScopeError] = Field(default_factory=list)
    message: str | None = None  # systemic failure, or why pruning was skipped
    # The part of the source this run covered ("" = all of it) and the queued request it served
    # (a redelivered task finds its request already done and does not run it again).
    scope: str = ""
    request_id: str | None = None
    # What the connector reported withholding without failing (``Connector.run_notes``).
    notes: dict[str, int] = Field(default_factory=dict)


@runtime_checkable
class StateStore(Protocol):
    def acquire_lease(self, source_id: str, owner: str, ttl: timedelta, now: datetime) -> Lease:
        """Take the source's lease or raise ``LeaseHeldError``; expired leases may be taken over."""

    def renew_lease(self, lease: Lease, ttl: timedelta, now: datetime) -> Lease:
        """Extend our lease or raise ``LeaseLostError`` if someone else holds it now."""

    def release_lease(self, lease: Lease) -> None: ...

    def get_checkpoint(self, source_id: str) -> Checkpoint | None: ...

    def save_checkpoint(self, lease: Lease, checkpoint: Checkpoint) -> None:
        """Persist durably, fenced by the lease (``LeaseLostError`` if it is no longer ours)."""

    def clear_checkpoint(self, lease: Lease) -> None: ...

    def save_run(self, run: RunRecord) -> None:
        """Insert or replace the run record with ``run.run_id``."""

    def recent_runs(self, source_id: str | None = None, limit: int = 20) -> list[RunRecord]:
        """Newest first."""
