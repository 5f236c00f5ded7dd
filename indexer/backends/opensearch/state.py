"""Sync state in OpenSearch: one document per source holding its lease and checkpoint.

Every change is a read-modify-write conditioned on the document's ``_seq_no``/``_primary_term``
(optimistic concurrency): of two workers racing for a lease exactly one write lands, and a
checkpoint is saved in the same document as the lease it is fenced by, so a worker whose lease
was taken over can never overwrite the new holder's checkpoint. Gets are realtime and every
acknowledged write is in the translog, so state is durable and visible on return.
"""

from __future__ import annotations

import time
import uuid
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from opensearchpy.exceptions import ConflictError, NotFoundError

from connectors.events import Checkpoint
from indexer.backends.opensearch.aliases import ensure_plain_index
from indexer.backends.opensearch.client import Gateway
from indexer.backends.opensearch.mappings import IndexNames, runs_body, state_body
from indexer.state_store import Lease, LeaseHeldError, LeaseLostError, RunRecord

MAX_RUNS = 10_000


class _Versioned:
    def __init__(self, source: dict[str, Any], seq_no: int | None, primary_term: int | None):
        self.source = source
        self.seq_no = seq_no
        self.primary_term = primary_term


class OpenSearchStateStore:
    def __init__(self, gw: Gateway, names: IndexNames) -> None:
        self.gw = gw
        self.names = names
        self._indices_ready = False

    def ensure_indices(self) -> None:
        if not self._indices_ready:
            ensure_plain_index(self.gw, self.names.state, state_body())
            ensure_plain_index(self.gw, self.names.runs, runs_body())
            self._indices_ready = True

    # -- leases -----------------------------------------------------------------------------

    def acquire_lease(self, source_id: str, owner: str, ttl: timedelta, now: datetime) -> Lease:
        current = self._read(source_id)
        held = _lease_of(current.source)
        if held is not None and held.expires_at > now:
            raise LeaseHeldError(
                f"source {source_id!r} is being synced by {held.owner} until {held.expires_at}"
            )
        lease = Lease(
            source_id=source_id, owner=owner, token=uuid.uuid4().hex, expires_at=now + ttl
        )
        try:
            self._write(source_id, current, {"lease": lease.model_dump(mode="json")})
        except ConflictError as exc:
            raise LeaseHeldError(f"source {source_id!r}: another worker took the lease") from exc
        return lease

    def renew_lease(self, lease: Lease, ttl: timedelta, now: datetime) -> Lease:
        renewed = lease.model_copy(update={"expires_at": now + ttl})
        self._fenced_write(lease, {"lease": renewed.model_dump(mode="json")})
        return renewed

    def release_lease(self, lease: Lease) -> None:
        # A lost lease is someone else's now: theirs to release.
        with suppress(LeaseLostError):
            self._fenced_write(lease, {"lease": None})

    # -- checkpoints ------------------------------------------------------------------------

    def get_checkpoint(self, source_id: str) -> Checkpoint | None:
        value = self._read(source_id).source.get("checkpoint")
        return None if value is None else Checkpoint.model_validate(value)

    def save_checkpoint(self, lease: Lease, checkpoint: Checkpoint) -> None:
        self._fenced_write(lease, {"checkpoint": checkpoint.model_dump(mode="json")})

    def clear_checkpoint(self, lease: Lease) -> None:
        self._fenced_write(lease, {"checkpoint": None})

    # -- runs -------------------------------------------------------------------------------

    def save_run(self, run: RunRecord) -> None:
        self.ensure_indices()
        # Runs are listed by search, so the write waits for a refresh: `permindex status` right
        # after a run shows it. Run records are few; the refresh is cheap.
        self.gw.call(
            self.gw.client.update,
            index=self.names.runs,
            id=run.run_id,
            body={
                "doc": {
                    "run_id": run.run_id,
                    "source_id": run.source_id,
                    "started_at": run.started_at.isoformat(),
                    "record": run.model_dump(mode="json"),
                },
                "upsert": {
                    "run_id": run.run_id,
                    "source_id": run.source_id,
                    "started_at": run.started_at.isoformat(),
                    "first_saved_ns": time.time_ns(),
                    "record": run.model_dump(mode="json"),
                },
            },
            refresh=True,
            retry_on_conflict=3,
        )

    def recent_runs(self, source_id: str | None = None, limit: int = 20) -> list[RunRecord]:
        self.ensure_indices()
        query: dict[str, Any] = (
            {"match_all": {}} if source_id is None else {"term": {"source_id": source_id}}
        )
        response = self.gw.call(
            self.gw.client.search,
            index=self.names.runs,
            body={
                "size": max(0, min(limit, MAX_RUNS)),
                "query": query,
                "sort": [{"started_at": "desc"}, {"first_saved_ns": "desc"}],
            },
        )
        return [
            RunRecord.model_validate(hit["_source"]["record"]) for hit in response["hits"]["hits"]
        ]

    # -- helpers ----------------------------------------------------------------------------

    def _read(self, source_id: str) -> _Versioned:
        self.ensure_indices()
        try:
            doc = self.gw.call(self.gw.client.get, index=self.names.state, id=source_id)
        except NotFoundError:
            return _Versioned({}, None, None)
        return _Versioned(doc["_source"], doc["_seq_no"], doc["_primary_term"])

    def _write(self, source_id: str, current: _Versioned, changes: dict[str, Any]) -> None:
        body = {"source_id": source_id, "lease": None, "checkpoint": None}
        body.update({k: v for k, v in current.source.items() if k in body})
        body.update(changes)
        if current.seq_no is None:
            self.gw.call(
                self.gw.client.index,
                index=self.names.state,
                id=source_id,
                body=body,
                op_type="create",
            )
        else:
            self.gw.call(
                self.gw.client.index,
                index=self.names.state,
                id=source_id,
                body=body,
                if_seq_no=current.seq_no,
                if_primary_term=current.primary_term,
            )

    def _fenced_write(self, lease: Lease, changes: dict[str, Any]) -> None:
        # Fencing: only the current holder's token is accepted. An expired lease nobody has
        # taken over is still ours; one taken over (new token) or released is not.
        current = self._read(lease.source_id)
        held = _lease_of(current.source)
        if held is None or held.token != lease.token:
            holder = "nobody" if held is None else held.owner
            raise LeaseLostError(
                f"lease on source {lease.source_id!r} is no longer held by {lease.owner} "
                f"(now held by {holder})"
            )
        try:
            self._write(lease.source_id, current, changes)
        except ConflictError as exc:
            raise LeaseLostError(
                f"lease on source {lease.source_id!r} changed while {lease.owner} wrote state"
            ) from exc


def _lease_of(source: dict[str, Any]) -> Lease | None:
    value = source.get("lease")
    return None if value is None else Lease.model_validate(value)
