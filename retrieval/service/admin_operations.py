"""Operator actions over the admin API: pause, resume, delete a source, set its retention,
preview a prune, re-index.

Admin capability only. Every action is audited (an ``operator_action`` record naming the key,
the action and the source) and logged in the source's control history; a delete also leaves a
run record. A delete asks for confirmation the API's way: ``confirm`` must repeat the source id.
A prune preview lists the source again through its connector (the service's configured
sources only) and pages what a prune would delete and why; each call lists afresh. A re-index
is a background operation (``admin_operations_reindex``): ``POST /v1/admin/reindex`` answers
202 with its id, ``GET /v1/admin/reindex/{id}`` its progress and result; a second start while
one runs is 409.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from indexer.backends import Stores
from indexer.operations.controls import SourceControl, control_of
from indexer.operations.delete_source import DeleteReport, delete_source
from indexer.operations.pause import SourcePausedError, pause, resume
from indexer.operations.prune_preview import PruneCandidate, PrunePreview, preview_prune
from indexer.operations.retention import set_retention
from indexer.state_store import LeaseHeldError
from retrieval.audit import AuditRecord
from retrieval.service.admin_operations_reindex import (
    ReindexBusyError,
    ReindexOperation,
    jobs_for,
)
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
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such source or operation here"}
}
_SOURCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
_SOURCE = Path(..., pattern=_SOURCE_PATTERN, description="source id")
_OPERATION = Path(..., pattern=r"^[0-9a-f]{32}$", description="the id the start returned")
# A prune preview lists the whole source: as long as a delete may take.
LONG_S = 600.0


class PauseRequest(BaseModel):
    reason: str = Field("", max_length=500)


class RetentionRequest(BaseModel):
    days: int | None = Field(None, ge=1, le=36_500, description="null: keep however old")


class PrunePreviewPage(BaseModel):
    """One page of what a prune of the source would delete, with the counts of all of it."""

    source_id: str
    listing_completed: bool
    message: str
    not_listed: int
    expired: int
    total: int  # candidates listed (at most MAX_LISTED; the counts cover every one)
    offset: int
    candidates: list[PruneCandidate]
    kept_scopes: dict[str, str]


def page_of(preview: PrunePreview, offset: int, limit: int) -> PrunePreviewPage:
    return PrunePreviewPage(
        source_id=preview.source_id,
        listing_completed=preview.listing_completed,
        message=preview.message,
        not_listed=preview.not_listed,
        expired=preview.expired,
        total=len(preview.candidates),
        offset=offset,
        candidates=preview.candidates[offset : offset + limit],
        kept_scopes=preview.kept_scopes,
    )


def operator_by(record: ApiKeyRecord) -> str:
    """Who acted, as the source's control history records it."""
    return f"api key {record.name} ({record.key_id})"


def audit_action(
    ctx: ServiceContext,
    record: ApiKeyRecord,
    action: str,
    target: str,
    started: float,
    *,
    service: str = "admin",
) -> None:
    """The ``operator_action`` audit record of one action (the API's and the console's)."""
    if ctx.audit is None:
        return
    ctx.audit.record(
        AuditRecord(
            kind="operator_action",
            query_id=uuid.uuid4().hex,
            at=datetime.now(UTC),
            service=service,
            user=record.name,
            query=f"{action} {target}",
            principal_count=0,
            returned_doc_ids=[],
            latency_ms=(time.perf_counter() - started) * 1000.0,
        )
    )


def stores_of(ctx: ServiceContext) -> Stores:
    if ctx.stores is None:
        raise ServiceError(503, "no_stores", "this service was built without its stores")
    return ctx.stores


def run_prune_preview(ctx: ServiceContext, source_id: str) -> PrunePreview:
    """Blocking: lists ``source_id`` through its connector. 404 for a source not configured."""
    stores = stores_of(ctx)
    if ctx.connector_for is None:
        raise ServiceError(503, "no_connectors", "this service was built without its sources")
    try:
        connector = ctx.connector_for(source_id)
    except KeyError:
        raise ServiceError(
            404, "unknown_source", f"{source_id!r} is not a source of this service"
        ) from None
    return preview_prune(connector, stores, clock=lambda: datetime.now(UTC))


def start_reindex(
    ctx: ServiceContext, record: ApiKeyRecord, *, service: str = "admin"
) -> ReindexOperation:
    """Starts a re-index (409 while one runs); its start and its end are audited."""
    jobs, started = jobs_for(stores_of(ctx)), time.perf_counter()

    def finished(op: ReindexOperation) -> None:
        audit_action(ctx, record, f"reindex-{op.status}", op.operation_id, started, service=service)

    try:
        op = jobs.start(operator_by(record), finished)
    except ReindexBusyError as exc:
        raise ServiceError(409, "reindex_running", str(exc)) from None
    audit_action(ctx, record, "reindex", op.operation_id, started, service=service)
    return op


def operations_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["operations"])

    def audit(record: ApiKeyRecord, action: str, source_id: str, started: float) -> None:
        audit_action(ctx, record, action, source_id, started)

    who = operator_by

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
        stores = stores_of(ctx)
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
        stores, started = stores_of(ctx), time.perf_counter()
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
        stores, started = stores_of(ctx), time.perf_counter()

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
        stores, started = stores_of(ctx), time.perf_counter()
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
        stores, started = stores_of(ctx), time.perf_counter()

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
            report = await ctx.run(work, LONG_S)
        finally:
            audit(record, "delete", source_id, started)
        return report

    @router.get(
        "/v1/admin/sources/{source_id}/prune-preview",
        response_model=PrunePreviewPage,
        responses={**_ERRORS, **_NOT_FOUND},
        summary="What a prune of a source would delete and why, paged; deletes nothing (admin).",
    )
    async def prune_preview(
        source_id: str = _SOURCE,
        offset: int = Query(0, ge=0, le=100_000),
        limit: int = Query(50, ge=1, le=500),
        record: ApiKeyRecord = Depends(ctx.authenticate),
    ) -> PrunePreviewPage:
        ctx.require_admin(record)
        started = time.perf_counter()
        try:
            preview = await ctx.run(lambda: run_prune_preview(ctx, source_id), LONG_S)
        finally:
            audit(record, "prune-preview", source_id, started)
        return page_of(preview, offset, limit)

    @router.post(
        "/v1/admin/reindex",
        status_code=202,
        response_model=ReindexOperation,
        responses={
            **_ERRORS,
            409: {"model": ErrorBody, "description": "a re-index of this index is running"},
        },
        summary="Start re-indexing into a new index while the old one serves (admin, audited).",
    )
    async def reindex_start(record: ApiKeyRecord = Depends(ctx.authenticate)) -> JSONResponse:
        ctx.require_admin(record)
        op = await ctx.run(lambda: start_reindex(ctx, record))
        return JSONResponse(
            op.model_dump(mode="json"),
            status_code=202,
            headers={"Location": f"/v1/admin/reindex/{op.operation_id}"},
        )

    @router.get(
        "/v1/admin/reindex/{operation_id}",
        response_model=ReindexOperation,
        responses={**ERROR_RESPONSES, **_NOT_FOUND},
        summary="A re-index's progress and, once it ended, its result (admin).",
    )
    async def reindex_status(
        operation_id: str = _OPERATION, record: ApiKeyRecord = Depends(ctx.authenticate)
    ) -> ReindexOperation:
        ctx.require_admin(record)
        op = jobs_for(stores_of(ctx)).get(operation_id)
        if op is None:
            raise ServiceError(404, "unknown_operation", "no such re-index in this service")
        return op

    return router
