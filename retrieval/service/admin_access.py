"""The access explainer over HTTP (admin keys only; every call audited).

- ``GET /v1/admin/access/explain?user=EMAIL&doc_id=DOC``: why USER can or cannot see DOC
  (``retrieval.access.explain.explain_access``).
- ``GET /v1/admin/access/who?doc_id=DOC&offset=0&limit=50``: who can see DOC, expanded through
  the synced groups, paged (``retrieval.access.audience.who_can_see``).
- ``GET /v1/admin/access/diff?user=EMAIL&since=TIME&offset=0&limit=50``: documents that became
  visible or hidden for USER since TIME (ISO or ``2h``, ``3d``), with the journaled changes that
  did it, paged (``retrieval.access.diff.access_diff``).

Answers name ACL principals and a document's title, which admins may read, and never its
content. Each call leaves one audit record (``kind`` ``access_explain``, ``access_who`` or
``access_diff``) naming the key, the person asked about, the document(s) and the verdict.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query

from indexer.backends import Stores
from retrieval.access.audience import who_can_see
from retrieval.access.audit import diff_record, explain_record, who_record
from retrieval.access.diff import AccessDiff, DiffUnavailableError, access_diff, parse_since
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
_DIFF_ERRORS = {
    **ERROR_RESPONSES,
    422: {
        "model": ErrorBody,
        "description": "invalid input (an address the resolver refuses, an unreadable time, "
        "or a time the access journal does not reach back to)",
    },
}
_ID = Query(..., min_length=1, max_length=2048, description="document id: <source>:<external id>")
_USER = Query(
    ...,
    min_length=EMAIL_MIN_CHARS,
    max_length=EMAIL_MAX_CHARS,
    pattern=EMAIL_PATTERN,
    description="the user's email",
)


def _admin_stores(ctx: ServiceContext, record: ApiKeyRecord) -> Stores:
    ctx.require_admin(record)
    if ctx.stores is None:
        raise ServiceError(503, "no_stores", "this service was built without its stores")
    return ctx.stores


def access_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["access"])

    @router.get(
        "/v1/admin/access/explain",
        response_model=AccessExplanation,
        responses=_ERRORS,
        summary="Why a user can or cannot see a document, from what the index holds (admin).",
    )
    async def explain(
        user: str = _USER,
        doc_id: str = _ID,
        record: ApiKeyRecord = Depends(ctx.authenticate),
    ) -> AccessExplanation:
        stores = _admin_stores(ctx, record)
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
        stores = _admin_stores(ctx, record)
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

    @router.get(
        "/v1/admin/access/diff",
        response_model=AccessDiff,
        responses=_DIFF_ERRORS,
        summary="Documents that became visible or hidden for a user since a time (admin).",
    )
    async def diff(
        user: str = _USER,
        since: str = Query(
            ...,
            min_length=1,
            max_length=64,
            description="ISO time (2026-03-01T14:00:00Z) or relative: 30m, 2h, 3d, 1w",
        ),
        offset: int = Query(0, ge=0, le=1_000_000),
        limit: int = Query(50, ge=1, le=500),
        record: ApiKeyRecord = Depends(ctx.authenticate),
    ) -> AccessDiff:
        stores = _admin_stores(ctx, record)
        now = datetime.now(UTC)
        try:
            since_at = parse_since(since, now)
        except ValueError as exc:
            raise ServiceError(422, "invalid_since", str(exc)) from None
        started = time.perf_counter()
        try:
            answer = await ctx.run(
                lambda: access_diff(
                    stores, ctx.resolver, user, since_at, offset=offset, limit=limit, now=now
                )
            )
        except IdentityError as exc:
            raise ServiceError(422, "invalid_user", str(exc)) from None
        except DiffUnavailableError as exc:
            raise ServiceError(422, "invalid_since", str(exc)) from None
        if ctx.audit is not None:
            latency = (time.perf_counter() - started) * 1000.0
            ctx.audit.record(
                diff_record(answer, asker=record.name, service=record.name, latency_ms=latency)
            )
        return answer

    return router
