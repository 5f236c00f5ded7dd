"""One sync run of one source: incremental, full with prune, permissions, groups or prune.

Failure semantics (docs/permissions.md and the indexer issue):

- a bad document (``DocumentFailed``, chunking error, an item the index rejects) is recorded in
  the run record and skipped; the run goes on;
- a part of the source that cannot be read (``ScopeFailed``) is recorded, nothing of it is
  pruned, and the run ends ``partial``; the other scopes go on;
- a source that refuses for a while (``RetryableError``, with its Retry-After) is waited out,
  keeping the lease, and the stream resumes from the last checkpoint; one that keeps refusing
  ends the run as ``SourceUnavailableError``;
- a systemic failure (source or index unavailable, configuration rejected, lease lost, listing
  incomplete) stops the run with status ``failed``: the checkpoint is not advanced past writes
  that are not durable and nothing is pruned;
- a stop request (SIGTERM) ends the run after its last durable write, status ``stopped``;
- the checkpoint is saved only after every write it covers is durable, so a run killed at any
  instant and started again converges to the source.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import TypeVar

from connectors.contract import Connector
from connectors.errors import (
    ConnectorConfigError,
    PermissionSourceUnreadableError,
    RetryableError,
    SourceUnavailableError,
)
from connectors.events import (
    Checkpoint,
    CheckpointReached,
    DocumentDeleted,
    DocumentFailed,
    DocumentUpserted,
    PermissionsChanged,
    ScopeFailed,
)
from indexer import checkpoints, metrics
from indexer.access_journal import (
    AclJournalWriter,
    access_journal_for,
    acl_journal_writer,
    journaled_replace_groups,
)
from indexer.backend import IndexUnavailableError
from indexer.backends import Stores
from indexer.dual_write import dual_writes
from indexer.embedding import Embedder
from indexer.listing_spill import SpilledIds
from indexer.pipeline import IndexContext, KnownCache, Tally, WritePipeline
from indexer.provenance import provenance_store_for
from indexer.pruning import read_listing, stale_documents
from indexer.records import DocFingerprint
from indexer.retry import RetryPolicy
from indexer.run_control import RunControl, StopRequested, Waiter
from indexer.run_types import ProgressSink, RunType, UnsupportedRunError
from indexer.settings import ChunkingSettings
from indexer.state_store import LeaseLostError, RunRecord, ScopeError, scope_key

__all__ = ["ProgressSink", "RunType", "SyncRunner", "UnsupportedRunError"]

log = logging.getLogger("permindex.indexer.runner")

SYSTEMIC_ERRORS: tuple[type[Exception], ...] = (
    SourceUnavailableError,
    IndexUnavailableError,
    ConnectorConfigError,
    LeaseLostError,
    RetryableError,  # retries ran out: the source keeps refusing
    checkpoints.CheckpointTooLargeError,
)
# Events handled per look-up of what the index holds.
EVENT_BATCH = 256
# A run that ended this way answered its request; "stopped" and "interrupted" runs did not, and
# their request runs again from the checkpoint they left.
ANSWERED = frozenset({"succeeded", "partial", "failed"})
# Run records searched for an earlier answer to a redelivered request.
ANSWER_HISTORY = 500

E = TypeVar("E")


class _RunStopped(Exception):
    """A systemic condition found by the runner itself (not raised by a store or connector)."""


_STOPS_RUN: tuple[type[Exception], ...] = (*SYSTEMIC_ERRORS, _RunStopped)


def _default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SyncRunner:
    def __init__(
        self,
        connector: Connector,
        stores: Stores,
        embedder: Embedder,
        *,
        chunking: ChunkingSettings,
        model_name: str,
        clock: Callable[[], datetime],
        owner: str | None = None,
        progress: ProgressSink | None = None,
        lease_ttl: timedelta = timedelta(minutes=5),
        write_batch_docs: int = 32,
        embed_batch_chunks: int = 256,
        retry: RetryPolicy | None = None,
        source_attempts: int = 8,
        max_source_wait: timedelta = timedelta(minutes=15),
        waiter: Waiter | None = None,
        event_batch: int = EVENT_BATCH,
        stop: threading.Event | None = None,
        scope: str = "",
        request_id: str | None = None,
    ) -> None:
        self.connector = connector
        self.source_id = connector.source_id
        # A scope run (a worker's unit of work) holds the scope's lease and checkpoint, not the
        # source's: the connector it is given covers that scope only.
        self.scope = scope
        self.state_key = scope_key(connector.source_id, scope)
        self.request_id = request_id
        self.stores = stores
        self.embedder = embedder
        self.chunking = chunking
        self.model_name = model_name
        self.clock = clock
        self.owner = owner or _default_owner()
        self.progress = progress
        self.lease_ttl = lease_ttl
        self.write_batch_docs = write_batch_docs
        self.embed_batch_chunks = embed_batch_chunks
        self.retry = retry or RetryPolicy()
        # How long a source that answers "retry later" (429, 503) is waited for, in all.
        self.source_attempts = source_attempts
        self.max_source_wait = max_source_wait
        self._waiter = waiter
        self.event_batch = event_batch
        self._stop = stop or threading.Event()
        self._control: RunControl | None = None
        # True when run() found its request already answered by an earlier run and returned it.
        self.answered_before = False

    # -- public -----------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Finish the batch in hand, make it durable, save the checkpoint, end as ``stopped``.

        Safe to call from a signal handler or another thread.
        """
        self._stop.set()

    def run(self, run_type: RunType | str) -> RunRecord:
        """Run once and return the saved run record.

        Raises ``UnsupportedRunError`` if the connector cannot do ``run_type`` and
        ``LeaseHeldError`` if another run of the source holds the lease; every other failure
        is reported in the returned record (unexpected errors are recorded, then re-raised).
        """
        run_type = RunType(run_type)
        self._check_capability(run_type)
        started = self.clock()
        lease = self.stores.state.acquire_lease(self.state_key, self.owner, self.lease_ttl, started)
        answered = self._answered_request()
        if answered is not None:
            # A queued request delivered twice (a worker died after the run ended, a broker
            # restart): it was answered, so this copy does not run again.
            self.stores.state.release_lease(lease)
            self.answered_before = True
            return answered
        self._control = RunControl(
            self.stores.state,
            lease,
            self.lease_ttl,
            self.clock,
            waiter=self._waiter,
            stop=self._stop,
        )
        record = RunRecord(
            run_id=uuid.uuid4().hex,
            source_id=self.source_id,
            run_type=run_type.value,
            status="running",
            started_at=started,
            scope=self.scope,
            request_id=self.request_id,
        )
        wall = time.perf_counter()
        pending: BaseException | None = None
        log.info("sync run started", extra=self._log_fields(record))
        try:
            self._close_orphaned_runs(record)
            self.stores.state.save_run(record)
            if self.progress is not None:
                self.progress.started(run_type.value, None)
            self.connector.validate()
            handler = {
                RunType.incremental: self._run_changes,
                RunType.full: self._run_changes,
                RunType.permissions: self._run_permissions,
                RunType.groups: self._run_groups,
                RunType.prune: self._run_prune,
            }[run_type]
            handler(record)
            record.status = "partial" if record.failed_scopes else "succeeded"
        except StopRequested:
            record.status = "stopped"
            record.message = "stopped on request after its last durable write; resumes there"
        except _STOPS_RUN as exc:
            record.status = "failed"
            record.message = _describe(exc, record.message)
            metrics.ERRORS.labels(self.source_id, "systemic").inc()
            log.error("sync run stopped", extra={**self._log_fields(record), "error": str(exc)})
        except KeyboardInterrupt as exc:
            record.status = "interrupted"
            record.message = "interrupted"
            pending = exc
        except Exception as exc:
            record.status = "failed"
            record.message = f"unexpected error: {type(exc).__name__}: {exc}"
            metrics.ERRORS.labels(self.source_id, "systemic").inc()
            log.exception("sync run crashed", extra=self._log_fields(record))
            pending = exc
        finally:
            record.ended_at = self.clock()
            record.notes = self._run_notes(record)
            self._finish(record, time.perf_counter() - wall)
        if pending is not None:
            raise pending
        return record

    def _answered_request(self) -> RunRecord | None:
        # Under the lease: no other copy of the request can be running while we look.
        if self.request_id is None:
            return None
        for run in self.stores.state.recent_runs(self.source_id, limit=ANSWER_HISTORY):
            if run.request_id == self.request_id and run.status in ANSWERED:
                return run
        return None

    def _close_orphaned_runs(self, record: RunRecord) -> None:
        # We hold the lease, so no other run of this source is alive: a record still "running" is
        # one whose process died (SIGKILL, power loss) before it could record its end.
        for run in self.stores.state.recent_runs(self.source_id, limit=50):
            if run.status == "running" and run.run_id != record.run_id and run.scope == self.scope:
                run.status = "interrupted"
                run.message = (
                    f"the process died before the run ended (found by run {record.run_id})"
                )
                self.stores.state.save_run(run)

    # -- run types --------------------------------------------------------------------------

    def _run_changes(self, record: RunRecord) -> None:
        full = record.run_type == RunType.full
        stored = self.retry.call(self.stores.state.get_checkpoint, self.state_key)
        stored_changes, stored_permissions = checkpoints.split(stored)
        # Other vectors behind the cursor (int8 switched on or off, another model): an
        # incremental run would leave every unchanged document on them, two vector spaces in
        # one index. So it reads the whole source as a full run does, without pruning, and
        # moves the cursor only at its end: stopped halfway, the next run starts over.
        earlier = checkpoints.vectors_of(stored)
        reread = not full and earlier is not None and earlier != self.model_name
        if reread:
            record.message = (
                f"vectors changed from {earlier!r} to {self.model_name!r}: every document is "
                "read and embedded again"
            )
            log.warning("re-reading the source for new vectors", extra=self._log_fields(record))
        checkpoint = None if full or reread else stored_changes
        pipeline, tally, context = self._pipeline(record, full=full or reread)
        final_checkpoint: Checkpoint | None = None

        def handle(event: object) -> None:
            nonlocal checkpoint, final_checkpoint
            if isinstance(event, DocumentUpserted):
                pipeline.upsert(event.document)
            elif isinstance(event, DocumentDeleted):
                pipeline.delete(event.doc_id)
            elif isinstance(event, PermissionsChanged):
                pipeline.permissions(event.doc_id, event.acl, event.acl_layers)
            elif isinstance(event, DocumentFailed):
                pipeline.failed(event.doc_id, event.reason)
            elif isinstance(event, ScopeFailed):
                self._scope_failed(record, event)
            elif isinstance(event, CheckpointReached):
                pipeline.flush()
                checkpoint = event.checkpoint
                if full or reread:
                    # A full run commits its checkpoint only once pruning has succeeded, a
                    # re-read once it has read everything.
                    final_checkpoint = event.checkpoint
                else:
                    self._save_checkpoint(event.checkpoint, stored_permissions, self.model_name)
                    self._save_progress(record)

        self._stream(lambda: self.connector.changes(checkpoint, context), pipeline, handle)
        pipeline.flush()
        if full:
            self._prune(record, tally.failed_ids)
        if final_checkpoint is not None:
            self._save_checkpoint(final_checkpoint, stored_permissions, self.model_name)

    def _run_permissions(self, record: RunRecord) -> None:
        stored = self.retry.call(self.stores.state.get_checkpoint, self.state_key)
        stored_changes, resume = checkpoints.split(stored)
        # The changes cursor keeps the identity of the vectors it was walked with.
        vectors = checkpoints.vectors_of(stored)
        pipeline, _, context = self._pipeline(record, full=False)

        def handle(event: object) -> None:
            nonlocal resume
            if isinstance(event, PermissionsChanged):
                pipeline.permissions(event.doc_id, event.acl, event.acl_layers)
            elif isinstance(event, ScopeFailed):
                self._scope_failed(record, event)
            elif isinstance(event, CheckpointReached):
                pipeline.flush()
                resume = event.checkpoint
                self._save_checkpoint(stored_changes, resume, vectors)

        # The last checkpoint emitted stays: a source with an ACL change feed keeps its cursor,
        # and one that walks its scopes ends with a checkpoint that starts the walk over.
        self._stream(lambda: self.connector.permissions(resume, context), pipeline, handle)
        pipeline.flush()

    def _run_prune(self, record: RunRecord) -> None:
        """Ids only: the source's listing against the index, without reading any content."""
        self._prune(record, failed_ids=set())

    def _prune(self, record: RunRecord, failed_ids: set[str]) -> None:
        index = self.stores.index
        control = self._require_control()
        listing_started = self.clock()
        with SpilledIds() as live:
            listing = read_listing(self.connector.list_live_ids(), live, control.heartbeat)
            control.heartbeat()
            if not listing.completed:
                record.message = (
                    f"listing incomplete ({listing.reason or 'no reason given'}): "
                    "nothing was pruned"
                )
                raise _RunStopped(record.message)
            for scope, reason in listing.failed_scopes.items():
                self._scope_failed(record, ScopeFailed(scope=scope, reason=reason))
            self.retry.call(index.refresh)
            deleted = 0
            journal = self._acl_journal(record)
            for stale in stale_documents(
                self._fingerprints_in_scope(),
                listing,
                listing_started=listing_started,
                protected=failed_ids,
                scope_of=self.connector.scope_of,
            ):
                if stale:
                    control.fence()
                    if journal is not None:
                        journal.before_write([(doc_id, None) for doc_id in stale])
                    self.retry.call(dual_writes(self.stores).delete_documents, stale)
                    if (provenance := provenance_store_for(index)) is not None:
                        self.retry.call(provenance.delete, stale)
                    deleted += len(stale)
        record.counts.deleted += deleted
        metrics.DOCUMENTS.labels(self.source_id, "deleted").inc(deleted)
        if self.progress is not None and deleted:
            self.progress.advanced(deleted, 0)
        kept = f", kept the documents of {len(listing.failed_scopes)} failed scope(s)"
        record.message = f"pruned {deleted} documents the source no longer lists" + (
            kept if listing.failed_scopes else ""
        )

    def _fingerprints_in_scope(self) -> Iterator[DocFingerprint]:
        # A scope run's listing names only its scope: the other scopes' documents are not its
        # to prune.
        for fingerprint in self.stores.index.iter_fingerprints(self.source_id):
            if not self.scope or self._in_scope(fingerprint.external_id):
                yield fingerprint

    def _in_scope(self, external_id: str) -> bool:
        return self.connector.scope_of(external_id) == self.scope

    def _run_groups(self, record: RunRecord) -> None:
        directory = self.stores.directory
        caps = self.connector.capabilities
        parts: list[str] = []
        unreadable: list[str] = []
        if caps.acls_expand_groups and caps.permissions_refresh:
            # Effective ACLs hold memberships expanded when they were computed: recompute them,
            # so a removed member loses access within this run. First, before the memberships
            # change: the pass also hides documents gone from the source since the last
            # incremental run, which a member this run adds must never find.
            self._run_permissions(record)
            parts.append("effective ACLs recomputed")
        # Streamed into one atomic replacement: a source failing halfway replaces nothing. Group
        # data the source says it cannot read means nobody: memberships are cleared, not kept
        # as they were (a broken file must not freeze the revocation it was edited to make).
        if caps.groups:
            count, problem = self._replace_directory(
                self.connector.groups(),
                lambda m: m.group.startswith(f"group:{self.source_id}:"),
                journaled_replace_groups(
                    directory,
                    access_journal_for(self.stores.index),
                    clock=self.clock,
                    run_id=record.run_id,
                ),
            )
            parts.append(f"{count} group memberships")
            if problem:
                unreadable.append(f"group memberships cleared: {problem}")
        if caps.identities:
            count, problem = self._replace_directory(
                self.connector.identities(),
                lambda m: m.account.startswith(f"account:{self.source_id}:"),
                directory.replace_identities,
            )
            parts.append(f"{count} identity mappings")
            if problem:
                unreadable.append(f"identity mappings cleared: {problem}")
        record.message = "synced " + ", ".join(parts)
        if unreadable:
            record.message += "; " + "; ".join(unreadable)
            raise _RunStopped(record.message)

    def _replace_directory(
        self,
        items: Iterable[E],
        belongs: Callable[[E], bool],
        replace: Callable[[str, Iterable[E]], None],
    ) -> tuple[int, str | None]:
        """Stream ``items`` into one atomic replacement of this source's entries; returns the
        count and, when the source could not read them, why (they are then replaced by none).

        Not retried: a stream cannot be replayed, and a failed replacement keeps the old
        entries; the next groups run tries again.
        """
        counted = _Counted(self._own(items, belongs), self._require_control().heartbeat)
        try:
            replace(self.source_id, counted)
        except PermissionSourceUnreadableError as exc:
            self.retry.call(replace, self.source_id, [])
            return 0, str(exc)
        return counted.count, None

    def _own(self, items: Iterable[E], belongs: Callable[[E], bool]) -> Iterator[E]:
        """Memberships and mappings of this source's own groups and accounts only: another
        source's group (its org members, say) is not this connector's to define."""
        for item in items:
            if not belongs(item):
                raise _RunStopped(
                    f"connector {type(self.connector).__name__} of source {self.source_id!r} "
                    f"reported {item!r}, which belongs to another source: nothing was replaced"
                )
            yield item

    # -- the event stream -------------------------------------------------------------------

    def _stream(
        self,
        open_stream: Callable[[], Iterable[E]],
        pipeline: WritePipeline,
        handle: Callable[[E], None],
    ) -> None:
        """Feed the connector's events to ``handle`` in batches, looking up what the index holds
        once per batch; wait out a source asking to retry later and resume from the last
        checkpoint handled (``open_stream`` reads it when called again)."""
        control = self._require_control()
        refusals = 0
        waited = 0.0
        while True:
            try:
                for batch in _batches(iter(open_stream()), self.event_batch):
                    pipeline.known.prefetch(
                        self._doc_id_of(event) for event in batch if self._doc_id_of(event)
                    )
                    for event in batch:
                        control.heartbeat()
                        handle(event)
                    pipeline.forget_settled()
                    # Between batches: what was handled becomes durable, then the run ends.
                    control.check_stop()
                return
            except RetryableError as exc:
                pipeline.flush()  # what was handled is durable before the wait
                refusals += 1
                wait = self._source_wait(exc, refusals)
                budget = self.max_source_wait.total_seconds()
                if refusals >= self.source_attempts or waited + wait > budget:
                    raise SourceUnavailableError(
                        f"the source kept refusing ({refusals} times, {waited:.0f} s waited): {exc}"
                    ) from exc
                log.warning(
                    "source asked to retry later; waiting",
                    extra={"source": self.source_id, "wait_s": round(wait, 3), "error": str(exc)},
                )
                waited += wait
                control.wait(wait)
            except StopRequested:
                pipeline.flush()
                raise

    def _source_wait(self, exc: RetryableError, refusals: int) -> float:
        if exc.retry_after is not None and exc.retry_after > 0:
            return float(exc.retry_after)
        # No Retry-After: exponential backoff with full jitter.
        return random.uniform(0.0, min(60.0, 1.0 * 2**refusals))

    def _doc_id_of(self, event: object) -> str:
        if isinstance(event, DocumentUpserted):
            source_id, doc_id = event.document.source_id, event.document.doc_id
        elif isinstance(event, DocumentDeleted | PermissionsChanged | DocumentFailed):
            source_id, doc_id = event.source_id, event.doc_id
        else:
            return ""
        if source_id != self.source_id:
            # Another source's id would let this connector overwrite or delete its documents.
            raise _RunStopped(
                f"connector {type(self.connector).__name__} of source {self.source_id!r} sent "
                f"an event for source {source_id!r}: nothing of it was applied"
            )
        return doc_id

    def _scope_failed(self, record: RunRecord, event: ScopeFailed) -> None:
        if all(failure.scope != event.scope for failure in record.failed_scopes):
            record.failed_scopes.append(ScopeError(scope=event.scope, reason=event.reason))
        metrics.ERRORS.labels(self.source_id, "scope").inc()
        extra = {"source": self.source_id, "scope": event.scope, "error": event.reason}
        log.warning("scope failed", extra=extra)

    # -- helpers ----------------------------------------------------------------------------

    def _pipeline(
        self, record: RunRecord, *, full: bool
    ) -> tuple[WritePipeline, Tally, IndexContext]:
        index = self.stores.index
        control = self._require_control()
        # Writes of earlier runs are durable but may not be visible to a scan until a refresh.
        self.retry.call(index.refresh)
        known = KnownCache(index, self.retry)
        tally = Tally(record, self.progress)
        pipeline = WritePipeline(
            index=dual_writes(self.stores),
            embedder=self.embedder,
            chunking=self.chunking,
            model_name=self.model_name,
            known=known,
            tally=tally,
            retry=self.retry,
            write_batch_docs=self.write_batch_docs,
            embed_batch_chunks=self.embed_batch_chunks,
            tick=control.heartbeat,
            fence=control.fence,
            clock=self.clock,
            provenance=provenance_store_for(index),
            journal=self._acl_journal(record),
        )
        context = IndexContext(
            self.source_id,
            index,
            known,
            full=full,
            stop=control.stop,
            heartbeat=control.heartbeat,
            in_scope=self._in_scope if self.scope else None,
        )
        return pipeline, tally, context

    def _acl_journal(self, record: RunRecord) -> AclJournalWriter | None:
        return acl_journal_writer(
            self.stores.index,
            self.retry,
            self.clock,
            run_id=record.run_id,
            run_type=record.run_type,
            source_id=self.source_id,
        )

    def _check_capability(self, run_type: RunType) -> None:
        caps = self.connector.capabilities
        missing = {
            RunType.incremental: None if caps.incremental else "incremental changes",
            RunType.full: None if caps.listing else "listing live documents (needed to prune)",
            RunType.permissions: None if caps.permissions_refresh else "permissions refresh",
            RunType.groups: None if caps.groups or caps.identities else "groups or identities",
            RunType.prune: None if caps.listing else "listing live documents",
        }[run_type]
        if missing is not None:
            raise UnsupportedRunError(
                f"source {self.source_id!r} ({type(self.connector).__name__}) does not support "
                f"{missing}: cannot run a {run_type.value} sync"
            )

    def _require_control(self) -> RunControl:
        assert self._control is not None, "only while a run holds the lease"
        return self._control

    def _save_checkpoint(
        self, changes: Checkpoint | None, permissions: Checkpoint | None, vectors: str | None
    ) -> None:
        control = self._require_control()
        control.fence()
        stored = checkpoints.join(changes, permissions, vectors)
        self.retry.call(self.stores.state.save_checkpoint, control.lease, stored)

    def _save_progress(self, record: RunRecord) -> None:
        self.retry.call(self.stores.state.save_run, record)

    def _run_notes(self, record: RunRecord) -> dict[str, int]:
        # Informational only: a connector that cannot say must not change how the run ended.
        try:
            return {str(k): int(v) for k, v in self.connector.run_notes().items()}
        except Exception:
            log.exception("connector run notes unreadable", extra=self._log_fields(record))
            return {}

    def _finish(self, record: RunRecord, seconds: float) -> None:
        try:
            self.stores.state.save_run(record)
        except Exception:
            log.exception("could not save the run record", extra=self._log_fields(record))
        if self._control is not None:
            try:
                self.stores.state.release_lease(self._control.lease)
            except Exception:
                # It expires on its own; the next run takes it over after lease_ttl.
                log.exception("could not release the lease", extra=self._log_fields(record))
            self._control = None
        metrics.RUNS.labels(self.source_id, record.run_type, record.status).inc()
        metrics.RUN_SECONDS.labels(self.source_id, record.run_type, record.status).observe(seconds)
        log.info(
            "sync run finished",
            extra={
                **self._log_fields(record),
                "seconds": round(seconds, 3),
                "counts": record.counts.model_dump(),
                "document_errors": sum(record.error_counts.values()),
                "failed_scopes": [s.scope for s in record.failed_scopes],
                "detail": record.message,
            },
        )
        if self.progress is not None:
            self.progress.finished(record)

    def _log_fields(self, record: RunRecord) -> dict[str, object]:
        return {
            "source": record.source_id,
            "run_id": record.run_id,
            "run_type": record.run_type,
            "status": record.status,
        }


class _Counted(Iterator[E]):
    """Counts what passes through, and keeps the lease while a long stream is consumed."""

    def __init__(self, items: Iterable[E], tick: Callable[[], None]) -> None:
        self._items = iter(items)
        self._tick = tick
        self.count = 0

    def __next__(self) -> E:
        item = next(self._items)
        self.count += 1
        if self.count % 500 == 0:
            self._tick()
        return item


def _batches(events: Iterator[E], size: int) -> Iterator[list[E]]:
    """Lists of up to ``size`` events, each ending at the latest at a checkpoint. If the stream
    raises, the events before the exception are still handed out (they happened), then the
    exception propagates.

    A batch never waits past a checkpoint: a slow source (pages behind rate limits) would
    otherwise keep handled pages in memory until ``size`` events arrived, invisible to readers
    and lost to a worker killed meanwhile."""
    batch: list[E] = []
    try:
        for event in events:
            batch.append(event)
            if len(batch) >= size or isinstance(event, CheckpointReached):
                yield batch
                batch = []
    except Exception:
        if batch:
            yield batch
        raise
    if batch:
        yield batch


def _describe(exc: BaseException, message: str | None) -> str:
    if isinstance(exc, _RunStopped):
        return message or str(exc)
    kinds = {
        SourceUnavailableError: "source unavailable",
        IndexUnavailableError: "index unavailable",
        ConnectorConfigError: "connector configuration rejected",
        LeaseLostError: "lease lost to another run",
        RetryableError: "source kept failing after retries",
        checkpoints.CheckpointTooLargeError: "checkpoint rejected",
    }
    kind = next((v for k, v in kinds.items() if isinstance(exc, k)), type(exc).__name__)
    return f"{kind}: {exc}; checkpoint not advanced, nothing pruned"
