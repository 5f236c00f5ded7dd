"""Per-source retention: documents not modified for N days are dropped from the index.

The source's own retention (Slack's message retention, a Drive's trash purge) needs nothing
here: what it removes reaches the index as a ``DocumentDeleted`` event, or leaves the source's
listing and is pruned by the next full or prune run, like any deletion.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from pydantic import BaseModel

from indexer.access_journal import journal_deletions
from indexer.backends import Stores
from indexer.dual_write import dual_writes
from indexer.operations.controls import SourceControl, control_of, control_store
from indexer.operations.leases import hold_leases
from indexer.operations.reads import AgedDocument, reader_for
from indexer.provenance import provenance_store_for
from indexer.state_store import RunCounts, RunRecord

PAGE = 500


class RetentionReport(BaseModel):
    source_id: str
    retention_days: int | None
    cutoff: datetime | None
    deleted: int


def set_retention(
    stores: Stores, source_id: str, days: int | None, *, by: str, now: datetime
) -> SourceControl:
    """Keep documents modified within ``days`` days (None: keep everything)."""
    control = control_of(stores, source_id)
    control.retention_days = days
    control.log("retention", by, now, "off" if days is None else f"{days} days")
    control_store(stores).put(control)
    return control


def expired(stores: Stores, source_id: str, days: int, now: datetime) -> Iterator[AgedDocument]:
    return reader_for(stores.index).not_modified_since(source_id, now - timedelta(days=days))


def apply_retention(
    stores: Stores,
    source_id: str,
    *,
    clock: Callable[[], datetime],
    owner: str = "retention",
    lease_ttl: timedelta = timedelta(minutes=5),
) -> RetentionReport:
    """Delete the documents the source's retention expires, under the source's lease (raises
    ``LeaseHeldError`` while a run holds it). Recorded as a run of type ``retention``."""
    days = control_of(stores, source_id).retention_days
    if days is None:
        return RetentionReport(source_id=source_id, retention_days=None, cutoff=None, deleted=0)
    started = clock()
    cutoff = started - timedelta(days=days)
    deleted = 0
    run_id = uuid.uuid4().hex  # also names the journaled deletions (indexer.access_journal)
    key = [source_id]
    with hold_leases(
        stores.state, key, f"{owner}:{uuid.uuid4().hex[:8]}", lease_ttl, started
    ) as held:
        stores.index.refresh()
        page: list[str] = []
        for aged in expired(stores, source_id, days, started):
            page.append(aged.doc_id)
            if len(page) >= PAGE:
                held.renew(clock())
                _journal(stores, page, clock(), run_id, source_id)
                _delete(stores, page)
                deleted += len(page)
                page = []
        if page:
            _journal(stores, page, clock(), run_id, source_id)
            _delete(stores, page)
            deleted += len(page)
        # Gone from search when the command returns, as after a run (OpenSearch is near-real-time).
        stores.index.refresh()
        if deleted:
            stores.state.save_run(
                RunRecord(
                    run_id=run_id,
                    source_id=source_id,
                    run_type="retention",
                    status="succeeded",
                    started_at=started,
                    ended_at=clock(),
                    counts=RunCounts(deleted=deleted),
                    message=f"retention: {deleted} documents not modified since {cutoff:%Y-%m-%d}",
                )
            )
    return RetentionReport(source_id=source_id, retention_days=days, cutoff=cutoff, deleted=deleted)


def _journal(stores: Stores, doc_ids: list[str], at: datetime, run_id: str, source_id: str) -> None:
    # Before the deletion: ``permindex access diff`` lists what retention hid, and from whom.
    journal_deletions(
        stores.index, doc_ids, at=at, run_id=run_id, run_type="retention", source_id=source_id
    )


def _delete(stores: Stores, doc_ids: list[str]) -> None:
    dual_writes(stores).delete_documents(doc_ids)
    # Their ACL layers go with them, as when a run prunes.
    if (provenance := provenance_store_for(stores.index)) is not None:
        provenance.delete(doc_ids)
