"""The access explainer over HTTP (admin keys only; every call audited).

- ``GET /v1/admin/access/explain?user=EMAIL&doc_id=DOC``: why USER can or cannot see DOC
  (``retrieval.access.explain.explain_access``).
- ``GET /v1/admin/access/who?doc_id=DOC&offset=0&limit=50``: who can see DOC, expanded through
  the synced groups, paged (``retrieval.access.audience.who_can_see``).

Answers name ACL principals and a document's title, which admins may read, and never its
content. Each call leaves one audit record (``kind`` ``access_explain`` or ``access_who``)
naming the key, the person asked about, the document and the verdict.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Query

from retrieval.access.audience import who_can_see
from retrieval.access.audit import explain_record, who_record
from retrieval.access.explain import explain_access
from retrieval.access.models import AccessAudience, AccessExplanation
from retrieval.identity import IdentityError
from retrieval.service.errors import ERROR_RESPONSES, ErrorBody, ServiceError
from retrieval.service.extensions import ServiceContext
from retrieval.service.keys import ApiKeyRecord
from retrieval.service.schemas import EMAIL_MAX_CHARS, EMAIL_MIN_CHARS, EMAIL_PATTERN

_ERRORS = {
    **ERROR_RESPONSES,
    422: {"model": ErrorBody, "description": "invalid input (an address the resolver refuses)"},
}
_ID = Query(..., min_length=1, max_length=2048, description="document id: <source>:<external id>")


def access_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["access"])

    @router.get(
        "/v1/admin/access/explain",
        response_model=AccessExplanation,
        responses=_ERRORS,
        summary="Why a user can or cannot see a document, from what the index holds (admin).",
    )
    async def explain(
        user: str = Query(
            ...,
            min_length=EMAIL_MIN_CHARS,
            max_length=EMAIL_MAX_CHARS,
            pattern=EMAIL_PATTERN,
            description="the user's email",
        ),
        doc_id: str = _ID,
        record: ApiKeyRecord = Depends(ctx.authenticate),
    ) -> AccessExplanation:
        ctx.require_admin(record)
        stores = ctx.stores
        if stores is None:
            raise ServiceError(503, "no_stores", "this service was built without its stores")
        started = time.perf_counter()
        try:
            answer = await ctx.run(lambda: explain_access(stores, ctx.resolver, user, doc_id))
        except IdentityError as exc:
            raise ServiceError(422, "invalid_user", str(exc)) from None
        if ctx.audit is not None:
            latency = (time.perf_counter() - started) * 1000.0
            ctx.audit.record(
                explain_record(answer, asker=record.name, service=record.name, latency_ms=latency)
            )
        return answer

    @router.get(
        "/v1/admin/access/who",
        response_model=AccessAudience,
        responses=_ERRORS,
        summary="Who can see a document: its ACL expanded through synced groups, paged (admin).",
    )
    async def who(
        doc_id: str = _ID,
        offset: int = Query(0, ge=0, le=1_000_000),
        limit: int = Query(50, ge=1, le=500),
        record: ApiKeyRecord = Depends(ctx.authenticate),
    ) -> AccessAudience:
        ctx.require_admin(record)
        stores = ctx.stores
        if stores is None:
            raise ServiceError(503, "no_stores", "this service was built without its stores")
        started = time.perf_counter()
        audience = await ctx.run(
            lambda: who_can_see(stores, ctx.resolver, doc_id, offset=offset, limit=limit)
        )
        if ctx.audit is not None:
            latency = (time.perf_counter() - started) * 1000.0
            ctx.audit.record(
                who_record(audience, asker=record.name, service=record.name, latency_ms=latency)
            )
        return audience

    return router
