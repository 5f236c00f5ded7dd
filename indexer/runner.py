"""One sync run of one source: incremental, full with prune, permissions or groups.

Failure semantics (docs/permissions.md and the indexer issue):

- a bad document (``DocumentFailed``, chunking error, an item the index rejects) is recorded in
  the run record and skipped; the run goes on;
- a systemic failure (source or index unavailable, configuration rejected, lease lost, listing
  incomplete) stops the run with status ``failed``: the checkpoint is not advanced past writes
  that are not durable and nothing is pruned;
- the checkpoint is saved only after every write it covers is durable, so a run killed at any
  instant and started again converges to the source.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

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
)
from indexer import metrics
from indexer.backend import IndexUnavailableError
from indexer.backends import Stores
from indexer.embedding import Embedder
from indexer.pipeline import IndexContext, Tally, WritePipeline, load_known
from indexer.pruning import read_listing, stale_documents
from indexer.retry import RetryPolicy
from indexer.run_types import ProgressSink, RunType, UnsupportedRunError
from indexer.settings import ChunkingSettings
from indexer.state_store import Lease, LeaseLostError, RunRecord

__all__ = ["ProgressSink", "RunType", "SyncRunner", "UnsupportedRunError"]

log = logging.getLogger("permindex.indexer.runner")

SYSTEMIC_ERRORS: tuple[type[Exception], ...] = (
    SourceUnavailableError,
    IndexUnavailableError,
    ConnectorConfigError,
    LeaseLostError,
    RetryableError,  # retries ran out: the source keeps refusing
)
_PRUNE_DELETE_BATCH = 500


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
    ) -> None:
        self.connector = connector
        self.source_id = connector.source_id
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
        self._lease: Lease | None = None
        self._renewed_at: datetime | None = None

    # -- public -----------------------------------------------------------------------------

    def run(self, run_type: RunType | str) -> RunRecord:
        """Run once and return the saved run record.

        Raises ``UnsupportedRunError`` if the connector cannot do ``run_type`` and
        ``LeaseHeldError`` if another run of the source holds the lease; every other failure
        is reported in the returned record (unexpected errors are recorded, then re-raised).
        """
        run_type = RunType(run_type)
        self._check_capability(run_type)
        started = self.clock()
        self._lease = self.stores.state.acquire_lease(
            self.source_id, self.owner, self.lease_ttl, started
        )
        self._renewed_at = started
        record = RunRecord(
            run_id=uuid.uuid4().hex,
            source_id=self.source_id,
            run_type=run_type.value,
            status="running",
            started_at=started,
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
            }[run_type]
            handler(record)
            record.status = "succeeded"
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
            self._finish(record, time.perf_counter() - wall)
        if pending is not None:
            raise pending
        return record

    def _close_orphaned_runs(self, record: RunRecord) -> None:
        # We hold the lease, so no other run of this source is alive: a record still "running" is
        # one whose process died (SIGKILL, power loss) before it could record its end.
        for run in self.stores.state.recent_runs(self.source_id, limit=50):
            if run.status == "running" and run.run_id != record.run_id:
                run.status = "interrupted"
                run.message = (
                    f"the process died before the run ended (found by run {record.run_id})"
                )
                self.stores.state.save_run(run)

    # -- run types --------------------------------------------------------------------------

    def _run_changes(self, record: RunRecord) -> None:
        full = record.run_type == RunType.full
        state = self.stores.state
        checkpoint = None if full else self.retry.call(state.get_checkpoint, self.source_id)
        pipeline, tally = self._pipeline(record)
        context = IndexContext(self.source_id, pipeline.known, full=full)
        final_checkpoint: Checkpoint | None = None
        for event in self.connector.changes(checkpoint, context):
            self._keep_lease()
            if isinstance(event, DocumentUpserted):
                pipeline.upsert(event.document)
            elif isinstance(event, DocumentDeleted):
                pipeline.delete(event.doc_id)
            elif isinstance(event, PermissionsChanged):
                pipeline.permissions(event.doc_id, event.acl)
            elif isinstance(event, DocumentFailed):
                pipeline.failed(event.doc_id, event.reason)
            elif isinstance(event, CheckpointReached):
                pipeline.flush()
                if full:
                    # A full run commits its checkpoint only once pruning has succeeded.
                    final_checkpoint = event.checkpoint
                else:
                    self._save_checkpoint(event.checkpoint)
                    self._save_progress(record)
        pipeline.flush()
        if full:
            self._prune(record, tally.failed_ids)
            if final_checkpoint is not None:
                self._save_checkpoint(final_checkpoint)

    def _prune(self, record: RunRecord, failed_ids: set[str]) -> None:
        index = self.stores.index
        listing_started = self.clock()
        listing = read_listing(self.connector.list_live_ids())
        self._keep_lease()
        if not listing.completed:
            record.message = (
                f"listing incomplete ({listing.reason or 'no reason given'}): nothing was pruned"
            )
            raise _RunStopped(record.message)
        self.retry.call(index.refresh)
        stale = self.retry.call(
            lambda: stale_documents(
                index.iter_fingerprints(self.source_id),
                listing,
                listing_started=listing_started,
                protected=failed_ids,
            )
        )
        for start in range(0, len(stale), _PRUNE_DELETE_BATCH):
            batch = stale[start : start + _PRUNE_DELETE_BATCH]
            self.retry.call(index.delete_documents, batch)
            self._keep_lease()
        record.counts.deleted += len(stale)
        metrics.DOCUMENTS.labels(self.source_id, "deleted").inc(len(stale))
        if self.progress is not None and stale:
            self.progress.advanced(len(stale), 0)
        record.message = f"pruned {len(stale)} documents the source no longer lists"

    def _run_permissions(self, record: RunRecord) -> None:
        pipeline, _ = self._pipeline(record)
        for event in self.connector.permissions():
            self._keep_lease()
            pipeline.permissions(event.doc_id, event.acl)
        pipeline.flush()

    def _run_groups(self, record: RunRecord) -> None:
        directory = self.stores.directory
        caps = self.connector.capabilities
        parts: list[str] = []
        unreadable: list[str] = []
        # Materialised first so a source failing halfway replaces nothing. Group data the
        # source says it cannot read means nobody: memberships are cleared, not kept as they were
        # (a broken file must not freeze the revocation it may have been edited to make).
        if caps.groups:
            try:
                memberships = list(self.connector.groups())
            except PermissionSourceUnreadableError as exc:
                memberships = []
                unreadable.append(f"group memberships cleared: {exc}")
            self._keep_lease()
            self.retry.call(directory.replace_groups, self.source_id, memberships)
            parts.append(f"{len(memberships)} group memberships")
        if caps.identities:
            try:
                mappings = list(self.connector.identities())
            except PermissionSourceUnreadableError as exc:
                mappings = []
                unreadable.append(f"identity mappings cleared: {exc}")
            self._keep_lease()
            self.retry.call(directory.replace_identities, self.source_id, mappings)
            parts.append(f"{len(mappings)} identity mappings")
        if caps.acls_expand_groups and caps.permissions_refresh:
            # Effective ACLs hold memberships expanded when they were computed: recompute them
            # now, so a removed member loses access within this run, not at some later one.
            self._run_permissions(record)
            parts.append("effective ACLs recomputed")
        record.message = "synced " + ", ".join(parts)
        if unreadable:
            record.message += "; " + "; ".join(unreadable)
            raise _RunStopped(record.message)

    # -- helpers ----------------------------------------------------------------------------

    def _pipeline(self, record: RunRecord) -> tuple[WritePipeline, Tally]:
        index = self.stores.index
        # Writes of earlier runs are durable but may not be visible to a scan until a refresh.
        self.retry.call(index.refresh)
        known = load_known(index, self.source_id, self.retry)
        tally = Tally(record, self.progress)
        pipeline = WritePipeline(
            index=index,
            embedder=self.embedder,
            chunking=self.chunking,
            model_name=self.model_name,
            known=known,
            tally=tally,
            retry=self.retry,
            write_batch_docs=self.write_batch_docs,
            embed_batch_chunks=self.embed_batch_chunks,
            tick=self._keep_lease,
            clock=self.clock,
        )
        return pipeline, tally

    def _check_capability(self, run_type: RunType) -> None:
        caps = self.connector.capabilities
        missing = {
            RunType.incremental: None if caps.incremental else "incremental changes",
            RunType.full: None if caps.listing else "listing live documents (needed to prune)",
            RunType.permissions: None if caps.permissions_refresh else "permissions refresh",
            RunType.groups: None if caps.groups or caps.identities else "groups or identities",
        }[run_type]
        if missing is not None:
            raise UnsupportedRunError(
                f"source {self.source_id!r} ({type(self.connector).__name__}) does not support "
                f"{missing}: cannot run a {run_type.value} sync"
            )

    def _keep_lease(self) -> None:
        assert self._lease is not None and self._renewed_at is not None
        now = self.clock()
        if now - self._renewed_at >= self.lease_ttl / 3:
            self._lease = self.stores.state.renew_lease(self._lease, self.lease_ttl, now)
            self._renewed_at = now

    def _save_checkpoint(self, checkpoint: Checkpoint) -> None:
        assert self._lease is not None
        self._keep_lease()
        self.retry.call(self.stores.state.save_checkpoint, self._lease, checkpoint)

    def _save_progress(self, record: RunRecord) -> None:
        self.retry.call(self.stores.state.save_run, record)

    def _finish(self, record: RunRecord, seconds: float) -> None:
        try:
            self.stores.state.save_run(record)
        except Exception:
            log.exception("could not save the run record", extra=self._log_fields(record))
        if self._lease is not None:
            try:
                self.stores.state.release_lease(self._lease)
            except Exception:
                # It expires on its own; the next run takes it over after lease_ttl.
                log.exception("could not release the lease", extra=self._log_fields(record))
            self._lease = None
        metrics.RUNS.labels(self.source_id, record.run_type, record.status).inc()
        metrics.RUN_SECONDS.labels(self.source_id, record.run_type, record.status).observe(seconds)
        log.info(
            "sync run finished",
            extra={
                **self._log_fields(record),
                "seconds": round(seconds, 3),
                "counts": record.counts.model_dump(),
                "document_errors": len(record.errors),
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


def _describe(exc: BaseException, message: str | None) -> str:
    if isinstance(exc, _RunStopped):
        return message or str(exc)
    kinds = {
        SourceUnavailableError: "source unavailable",
        IndexUnavailableError: "index unavailable",
        ConnectorConfigError: "connector configuration rejected",
        LeaseLostError: "lease lost to another run",
        RetryableError: "source kept failing after retries",
    }
    kind = next((v for k, v in kinds.items() if isinstance(exc, k)), type(exc).__name__)
    return f"{kind}: {exc}; checkpoint not advanced, nothing pruned"
