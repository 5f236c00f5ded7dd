"""The unit of work, a run of one scope, and the task code that executes it.

The same code runs under ``permindex schedule`` (in-process, no Redis) and in a Celery worker.
A request id names one queued request: a redelivered copy of a request that already ended finds
its run record and is dropped, so a request runs at most once to completion.
"""

from __future__ import annotations

import threading
import uuid

from pydantic import BaseModel, ConfigDict, Field

from indexer.run_types import RunType
from indexer.runner import SyncRunner
from indexer.state_store import RunRecord
from schedules.commands import Runtime, default_owner
from schedules.scopes import restrict, scopes_of


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
    """One work item per scope of ``source_id`` (one for a source without scopes)."""
    connector = runtime.connector_for(source_id)
    return [
        WorkItem(source_id=source_id, scope=scope, run_type=run_type)
        for scope in scopes_of(connector, run_type)
    ]


def execute(
    runtime: Runtime,
    item: WorkItem,
    *,
    owner: str | None = None,
    stop: threading.Event | None = None,
) -> RunRecord | None:
    """Run ``item`` unless its request was already answered (then None).

    Raises ``LeaseHeldError`` when another run holds the scope: the caller retries later.
    """
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
    return None if runner.answered_before else record
