"""``GET /v1/admin/status``: the same per-source and per-scope report as ``permindex status``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from indexer.status import StatusReport, status_report
from retrieval.service.errors import ERROR_RESPONSES
from retrieval.service.extensions import ServiceContext
from retrieval.service.keys import ApiKeyRecord

_ERRORS = ERROR_RESPONSES


def status_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/v1/admin/status",
        response_model=StatusReport,
        responses=_ERRORS,
        summary="Per source and scope: last run, lag, next run, queue depth, last error (admin).",
    )
    async def admin_status(
        history: int = Query(50, ge=1, le=500, description="runs read per source"),
        record: ApiKeyRecord = Depends(ctx.authenticate),
    ) -> StatusReport:
        ctx.require_admin(record)
        stores = ctx.stores
        if stores is None:
            raise RuntimeError("the status router needs the service's stores")

        def work() -> StatusReport:
            from datetime import UTC, datetime

            return status_report(
                stores.state,
                stores.index,
                ctx.source_ids or (),
                datetime.now(UTC),
                history=history,
                queue=ctx.queue,
            )

        return await ctx.run(work)

    return router
