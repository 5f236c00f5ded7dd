"""Deleting a source: every document and chunk, its groups and identities, its checkpoints.

Order matters for access: the source is first marked ``deleting`` (so no run starts), then its
documents are deleted before anything else, page by page; group memberships go after them
(removing a membership only ever narrows access). Every step is idempotent and the mark stays
until the last one is done, so a delete killed at any instant finishes when run again. The run
records stay, with one more record (run type ``delete``) saying who deleted what.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import islice

from pydantic import BaseModel

from indexer.access_journal import access_journal_for, journal_deletions, journaled_replace_groups
from indexer.backends import Stores
from indexer.dual_write import dual_writes
from indexer.operations.controls import SourceControl, control_of, control_store
from indexer.operations.leases import hold_leases, lease_keys
from indexer.state_store import RunCounts, RunRecord

log = logging.getLogger("permindex.operations")

PAGE = 500


class DeleteReport(BaseModel):
    source_id: str
    documents_deleted: int
    checkpoints_cleared: int
    provenance_deleted: bool
    resumed: bool  # an earlier delete of this source had not finished
    control: SourceControl


def delete_source(
    stores: Stores,
    source_id: str,
    *,
    by: str,
    clock: Callable[[], datetime],
    lease_ttl: timedelta = timedelta(minutes=5),
    after_page: Callable[[int], None] | None = None,
) -> DeleteReport:
    """Delete everything ``source_id`` owns. Raises ``LeaseHeldError`` while a run of it holds a
    lease: the source stays marked ``deleting`` (no new run starts), so run it again later.

    ``after_page`` is called with the running count after each page of documents is deleted
    (progress, and the crash point of the tests).
    """
    controls = control_store(stores)
    control = control_of(stores, source_id)
    resumed = control.deleting
    now = clock()
    if not resumed:
        control.deleting = True
        control.paused = True
        control.reason = f"being deleted by {by}"
        control.log("delete-started", by, now)
        controls.put(control)
    owner = f"delete:{by}:{uuid.uuid4().hex[:8]}"
    state = stores.state
    started = clock()
    deleted = 0
    run_id = uuid.uuid4().hex  # also names the journaled deletions (indexer.access_journal)
    with hold_leases(state, lease_keys(state, [source_id]), owner, lease_ttl, now) as held:
        deleted = _delete_documents(stores, source_id, held.renew, clock, after_page, run_id)
        provenance = _delete_provenance(stores, source_id)
        journal = access_journal_for(stores.index)
        clear_groups = journaled_replace_groups(
            stores.directory, journal, clock=clock, run_id=run_id, run_type="delete"
        )
        clear_groups(source_id, [])
        stores.directory.replace_identities(source_id, [])
        for lease in held.leases:
            state.clear_checkpoint(lease)
        ended = clock()
        state.save_run(
            RunRecord(
                run_id=run_id,
                source_id=source_id,
                run_type="delete",
                status="succeeded",
                started_at=started,
                ended_at=ended,
                counts=RunCounts(deleted=deleted),
                message=(
                    f"source deleted by {by}: {deleted} documents"
                    + (" (finishing an interrupted delete)" if resumed else "")
                    + f", groups, identities and {len(held.leases)} checkpoint(s)"
                ),
            )
        )
        control.deleting = False
        control.deleted_at = ended
        control.reason = f"deleted by {by} at {ended:%Y-%m-%d %H:%M} UTC; resume to index it again"
        control.log("delete-finished", by, ended, f"{deleted} documents")
        controls.put(control)
        checkpoints = len(held.leases)
    log.info("source deleted", extra={"source": source_id, "documents": deleted, "by": by})
    return DeleteReport(
        source_id=source_id,
        documents_deleted=deleted,
        checkpoints_cleared=checkpoints,
        provenance_deleted=provenance,
        resumed=resumed,
        control=control,
    )


def _delete_documents(
    stores: Stores,
    source_id: str,
    renew: Callable[[datetime], None],
    clock: Callable[[], datetime],
    after_page: Callable[[int], None] | None,
    run_id: str,
) -> int:
    index = stores.index
    deleted = 0
    while True:
        # A fresh scan each page: what the last page deleted is gone from it after the refresh.
        index.refresh()
        page = [fp.doc_id for fp in islice(index.iter_fingerprints(source_id), PAGE)]
        if not page:
            return deleted
        journal_deletions(
            index, page, at=clock(), run_id=run_id, run_type="delete", source_id=source_id
        )
        dual_writes(stores).delete_documents(page)
        deleted += len(page)
        renew(clock())
        if after_page is not None:
            after_page(deleted)


def _delete_provenance(stores: Stores, source_id: str) -> bool:
    try:
        from indexer.provenance import provenance_store_for
    except ImportError:  # the access explainer's store is optional
        return False
    store = provenance_store_for(stores.index)
    if store is None:
        return False
    store.delete_source(source_id)
    return True
