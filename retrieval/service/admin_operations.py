"""Operator actions over the admin API: pause, resume, delete a source, set its retention.

Admin capability only. Every call is audited (an ``operator_action`` record naming the key, the
action and the source) and logged in the source's control history; a delete also leaves a run
record. A delete asks for confirmation the API's way: ``confirm`` must repeat the source id.
Prune previews and re-indexing need the sources' connectors and run long: they are CLI
commands (``permindex prune --dry-run``, ``permindex reindex``).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from indexer.backends import Stores
from indexer.operations.controls import SourceControl, control_of
from indexer.operations.delete_source import DeleteReport, delete_source
from indexer.operations.pause import SourcePausedError, pause, resume
from indexer.operations.retention import set_retention
from indexer.state_store import LeaseHeldError
from retrieval.audit import AuditRecord
from retrieval.service.errors import ERROR_RESPONSES, ErrorBody, ServiceError
from retrieval.service.extensions import ServiceContext
from retrieval.service.keys import ApiKeyRecord

_ERRORS = {
    **ERROR_RESPONSES,
    409: {
        "model": ErrorBody,
        "description": "a run holds the source, a delete is unfinished, or not confirmed",
    },
}
_SOURCE = Path(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$", description="source id")


class PauseRequest(BaseModel):
    reason: str = Field("", max_length=500)


class RetentionRequest(BaseModel):
    days: int | None = Field(None, ge=1, le=36_500, description="null: keep however old")


def operations_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["operations"])

    def stores_of() -> Stores:
        if ctx.stores is None:
            raise ServiceError(503, "no_stores", "this service was built without its stores")
        return ctx.stores

    def audit(record: ApiKeyRecord, action: str, source_id: str, started: float) -> None:
        if ctx.audit is None:
            return
        ctx.audit.record(
            AuditRecord(
                kind="operator_action",
                query_id=uuid.uuid4().hex,
                at=datetime.now(UTC),
                service="admin",
                user=record.name,
                query=f"{action} {source_id}",
                principal_count=0,
                returned_doc_ids=[],
                latency_ms=(time.perf_counter() - started) * 1000.0,
            )
        )

    def who(record: ApiKeyRecord) -> str:
        return f"api key {record.name} ({record.key_id})"

    @router.get(
        "/v1/admin/sources/{source_id}/control",
        response_model=SourceControl,
        responses=_ERRORS,
        summary="A source's pause, retention and operator history (admin).",
    )
    async def get_control(
        source_id: str = _SOURCE, record: ApiKeyRecord = Depends(ctx.authenticate)
    ) -> SourceControl:
        ctx.require_admin(record)
        stores = stores_of()
        return await ctx.run(lambda: control_of(stores, source_id))

    @router.post(
        "/v1/admin/sources/{source_id}/pause",
        response_model=SourceControl,
        responses=_ERRORS,
        summary="Pause a source: no run starts until it is resumed (admin, audited).",
    )
    async def pause_source(
        body: PauseRequest,
        source_id: str = _SOURCE,
        record: ApiKeyRecord = Depends(ctx.authenticate),
    ) -> SourceControl:
        ctx.require_admin(record)
        stores, started = stores_of(), time.perf_counter()
        control = await ctx.run(
            lambda: pause(
                stores, source_id, by=who(record), now=datetime.now(UTC), reason=body.reason
            )
        )
        audit(record, "pause", source_id, started)
        return control

    @router.post(
        "/v1/admin/sources/{source_id}/resume",
        response_model=SourceControl,
        responses=_ERRORS,
        summary="Resume a paused source (admin, audited).",
    )
    async def resume_source(
        source_id: str = _SOURCE, record: ApiKeyRecord = Depends(ctx.authenticate)
    ) -> SourceControl:
        ctx.require_admin(record)
        stores, started = stores_of(), time.perf_counter()

        def work() -> SourceControl:
            try:
                return resume(stores, source_id, by=who(record), now=datetime.now(UTC))
            except SourcePausedError as exc:
                raise ServiceError(409, "delete_unfinished", str(exc)) from None

        control = await ctx.run(work)
        audit(record, "resume", source_id, started)
        return control

    @router.put(
        "/v1/admin/sources/{source_id}/retention",
        response_model=SourceControl,
        responses=_ERRORS,
        summary="Drop a source's documents not modified for N days after each run (admin).",
    )
    async def put_retention(
        body: RetentionRequest,
        source_id: str = _SOURCE,
        record: ApiKeyRecord = Depends(ctx.authenticate),
    ) -> SourceControl:
        ctx.require_admin(record)
        stores, started = stores_of(), time.perf_counter()
        control = await ctx.run(
            lambda: set_retention(
                stores, source_id, body.days, by=who(record), now=datetime.now(UTC)
            )
        )
        audit(record, f"retention={body.days}", source_id, started)
        return control

    @router.delete(
        "/v1/admin/sources/{source_id}",
        response_model=DeleteReport,
        responses=_ERRORS,
        summary="Delete every document, chunk, group and checkpoint of a source (admin, audited).",
    )
    async def delete(
        source_id: str = _SOURCE,
        confirm: str = Query(..., description="the source id again: the delete's confirmation"),
        record: ApiKeyRecord = Depends(ctx.authenticate),
    ) -> DeleteReport:
        ctx.require_admin(record)
        if confirm != source_id:
            # 409, not 422: the request is well formed, the confirmation does not match.
            raise ServiceError(409, "not_confirmed", "confirm must repeat the source id")
        stores, started = stores_of(), time.perf_counter()

        def work() -> DeleteReport:
            try:
                return delete_source(
                    stores, source_id, by=who(record), clock=lambda: datetime.now(UTC)
                )
            except LeaseHeldError as exc:
                raise ServiceError(
                    409,
                    "source_busy",
                    f"a run holds the source ({exc}); it is marked for deletion and starts no"
                    " new run: repeat the delete when the run ends",
                ) from None

        try:
            report = await ctx.run(work, 600.0)
        finally:
            audit(record, "delete", source_id, started)
        return report

    return router
