"""The unit of work, a run of one scope, and the task code that executes it.

The same code runs under ``permindex schedule`` (in-process, no Redis) and in a Celery worker.
A request id names one queued request: a redelivered copy of a request that already ended finds
its run record and is dropped, so a request runs at most once to completion.
"""

from __future__ import annotations

import logging
import threading
import uuid

from pydantic import BaseModel, ConfigDict, Field

from connectors.contract import Connector
from indexer.operations.pause import describe_pause, paused_control
from indexer.operations.retention import apply_retention
from indexer.run_types import RunType
from indexer.runner import SyncRunner
from indexer.state_store import LeaseHeldError, RunRecord
from schedules.commands import Runtime, default_owner
from schedules.scopes import restrict, scopes_of

log = logging.getLogger("permindex.schedules")


class WorkItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    source_id: str
    scope: str = ""
    run_type: RunType = RunType.incremental
    request_id: str = Field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def label(self) -> str:
        where = f"{self.source_id}/{self.scope}" if self.scope else self.source_id
        return f"{self.run_type.value} run of {where}"


def plan(runtime: Runtime, source_id: str, run_type: RunType) -> list[WorkItem]:
    """One work item per scope of ``source_id`` (one for a source without scopes); none for a
    paused source."""
    connector = runtime.connector_for(source_id)
    paused = paused_control(runtime.stores, source_id)
    if paused is not None:
        log.info("skipped: %s", describe_pause(paused), extra={"source": source_id})
        return []
    scopes = scopes_of(connector, run_type)
    if scopes != [""] and run_type in _DECIDES_WHAT_STAYS:
        scopes += _vanished_scopes(runtime, connector, set(scopes))
    return [WorkItem(source_id=source_id, scope=scope, run_type=run_type) for scope in scopes]


# A scope gone from the source (a deleted channel, a drive the account lost) is no longer
# offered, yet its documents are still indexed and visible: these run types plan it too, and its
# scope run (the connector's for_scope of a scope it no longer has) removes or hides them.
# Documents of scope "" in a split source (ids of an older format, as Jira's bare issue ids) are
# reached by one unscoped run. Incremental runs skip the scan of the index this needs.
_DECIDES_WHAT_STAYS = frozenset({RunType.full, RunType.prune, RunType.permissions})


def _vanished_scopes(runtime: Runtime, connector: Connector, offered: set[str]) -> list[str]:
    runtime.stores.index.refresh()
    held = {
        connector.scope_of(fingerprint.external_id)
        for fingerprint in runtime.stores.index.iter_fingerprints(connector.source_id)
    }
    return sorted(held - offered)


def execute(
    runtime: Runtime,
    item: WorkItem,
    *,
    owner: str | None = None,
    stop: threading.Event | None = None,
) -> RunRecord | None:
    """Run ``item`` unless its request was already answered (then None).

    Raises ``LeaseHeldError`` when another run holds the scope: the caller retries later.
    A request for a source paused since it was queued is dropped (None). After a run that
    read the source, documents past the source's retention are dropped.
    """
    paused = paused_control(runtime.stores, item.source_id)
    if paused is not None:
        log.info("dropped: %s", describe_pause(paused), extra={"source": item.source_id})
        return None
    connector = restrict(runtime.connector_for(item.source_id), item.scope)
    runner = SyncRunner(
        connector,
        runtime.stores,
        runtime.embedder,
        chunking=runtime.chunking,
        model_name=runtime.model_name,
        clock=runtime.clock,
        owner=owner or default_owner(),
        lease_ttl=runtime.sync.lease_ttl,
        write_batch_docs=runtime.sync.write_batch_docs,
        embed_batch_chunks=runtime.sync.embed_batch_chunks,
        stop=stop,
        scope=item.scope,
        request_id=item.request_id,
    )
    record = runner.run(item.run_type)
    if runner.answered_before:
        return None
    if item.run_type in _READS_SOURCE and record.status in ("succeeded", "partial"):
        _apply_retention(runtime, item.source_id)
    return record


_READS_SOURCE = frozenset({RunType.incremental, RunType.full, RunType.prune})


def _apply_retention(runtime: Runtime, source_id: str) -> None:
    try:
        apply_retention(runtime.stores, source_id, clock=runtime.clock)
    except LeaseHeldError:
        pass  # another run of the source is on; the next run applies it
    except Exception:
        log.exception("retention not applied", extra={"source": source_id})
