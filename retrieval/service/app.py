"""The HTTP service: ``create_app`` builds a FastAPI app from injected parts (no globals)."""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer.backend import IndexUnavailableError
from indexer.backends import Stores
from indexer.operations.prune_preview import ConnectorFor
from indexer.records import IndexStats
from indexer.status import QueueView
from retrieval.audit import AuditSink
from retrieval.identity import IdentityError, IdentityResolver
from retrieval.models import DocumentView, SearchQuery, SearchResponse
from retrieval.searcher import SearchLimitError
from retrieval.service.auth import authenticator, require
from retrieval.service.errors import (
    ERROR_RESPONSES,
    ErrorBody,
    ServiceError,
    install_error_handlers,
)
from retrieval.service.extensions import RouterFactory, Runner, ServiceContext
from retrieval.service.keys import ApiKeyRecord, ApiKeyStore, Capability
from retrieval.service.limits import (
    BodySizeLimit,
    BoundedExecutor,
    BudgetExceededError,
    OverloadedError,
)
from retrieval.service.metrics import ServiceMetrics
from retrieval.service.readiness import Readiness, index_probe
from retrieval.service.schemas import (
    EMAIL_FORMAT,
    EMAIL_MAX_CHARS,
    EMAIL_MIN_CHARS,
    EMAIL_PATTERN,
    GroupPrincipal,
    SearchRequest,
    with_service_limits,
)
from retrieval.service.settings import ServiceSettings

log = logging.getLogger(__name__)
security_log = logging.getLogger("permindex.security")

T = TypeVar("T")

MAX_DOC_ID_CHARS = 2048


class SearchBackend(Protocol):
    """What the service needs from ``retrieval.searcher.Searcher``."""

    def search(
        self, principals: frozenset[str], query: SearchQuery, *, caller: str, service: str
    ) -> SearchResponse: ...

    def get_document(
        self, principals: frozenset[str], doc_id: str, *, caller: str, service: str
    ) -> DocumentView | None: ...


class Health(BaseModel):
    status: str
    backend: str | None = None
    detail: str | None = None


_ERRORS = ERROR_RESPONSES


def create_app(
    searcher: SearchBackend,
    resolver: IdentityResolver,
    keys: ApiKeyStore,
    settings: ServiceSettings,
    *,
    stats: Callable[[], IndexStats] | None = None,
    probe: Callable[[], None] | None = None,
    stores: Stores | None = None,
    audit: AuditSink | None = None,
    routers: Sequence[RouterFactory] = (),
    source_ids: Sequence[str] | None = None,
    queue: QueueView | None = None,
    connector_for: ConnectorFor | None = None,
) -> FastAPI:
    """``stats`` reads the index statistics for ``/v1/admin/stats``; it defaults to
    ``searcher.index.stats``. ``probe`` is the cheap read behind ``/readyz`` (raises when the
    index does not answer); it defaults to ``readiness.index_probe(searcher.index)``."""
    metrics = ServiceMetrics()
    executor = BoundedExecutor(settings.workers, settings.max_queued)
    index_stats = stats or _index_stats_of(searcher)
    index = getattr(searcher, "index", None)
    readiness = Readiness(
        probe or index_probe(index),
        cache_s=settings.readiness_cache_s,
        timeout_s=settings.readiness_timeout_s,
    )
    backend_name = getattr(index, "name", None)
    authenticate = authenticator(keys, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        executor.shutdown()
        readiness.shutdown()

    app = FastAPI(
        title="permindex",
        summary="Permission-trimmed hybrid search with citations.",
        version="1",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, metrics=metrics)
    app.add_middleware(_RequestMetrics, metrics=metrics)

    async def run(fn: Callable[[], T], timeout_s: float = settings.time_budget_s) -> T:
        try:
            return await executor.run(fn, timeout_s)
        except OverloadedError as exc:
            metrics.rejected.labels("overloaded").inc()
            raise ServiceError(
                503,
                "overloaded",
                "too many concurrent requests; retry shortly",
                headers={"Retry-After": "1"},
            ) from exc
        except BudgetExceededError as exc:
            metrics.rejected.labels("timeout").inc()
            raise ServiceError(
                504, "timeout", f"the request did not finish within {timeout_s:g} s"
            ) from exc
        except IndexUnavailableError as exc:
            metrics.rejected.labels("index_unavailable").inc()
            log.warning("index unavailable: %s", exc)
            raise ServiceError(
                503,
                "index_unavailable",
                "the index is unavailable; retry later",
                headers={"Retry-After": "5"},
            ) from exc
        except IdentityError as exc:
            raise ServiceError(422, "invalid_identity", str(exc)) from exc
        except SearchLimitError as exc:
            raise ServiceError(422, "over_limit", str(exc)) from exc

    def check_groups(record: ApiKeyRecord, groups: list[str]) -> None:
        if groups and not record.allows(Capability.ASSERT_GROUPS):
            # Refused rather than ignored: a caller that believes its groups count would
            # otherwise get silently different results.
            metrics.auth_failures.labels("403").inc()
            security_log.warning(
                "key %r asserted %d group(s) without the assert_groups capability",
                record.name,
                len(groups),
            )
            raise ServiceError(
                403,
                "forbidden",
                f"API key {record.name!r} may not assert groups (needs 'assert_groups')",
            )
        if len(groups) > settings.max_asserted_groups:
            raise ServiceError(
                422,
                "too_many_groups",
                f"at most {settings.max_asserted_groups} groups may be asserted",
            )

    @app.post(
        "/v1/search",
        response_model=SearchResponse,
        responses=_ERRORS,
        tags=["search"],
        summary="Search on behalf of a user; results are trimmed to what that user may see.",
    )
    async def search(
        body: SearchRequest, record: ApiKeyRecord = Depends(authenticate)
    ) -> SearchResponse:
        require(record, Capability.SEARCH, metrics)
        check_groups(record, body.groups)
        if body.trace:
            # A trace lists candidates and scores of every stage: operators only.
            require(record, Capability.ADMIN, metrics)
        if body.top_k > settings.max_top_k:
            raise ServiceError(
                422, "top_k_too_large", f"top_k must be at most {settings.max_top_k}"
            )
        if len(body.query) > settings.max_query_chars:
            raise ServiceError(
                422,
                "query_too_long",
                f"query must be at most {settings.max_query_chars} characters",
            )
        query = body.to_query()
        trusted = record.allows(Capability.ASSERT_GROUPS)

        def work() -> SearchResponse:
            principals = resolver.resolve(
                body.user, asserted_groups=body.groups, trust_asserted=trusted
            )
            return searcher.search(principals, query, caller=body.user, service=record.name)

        response = await run(work)
        metrics.searches.labels(query.mode).inc()
        metrics.search_results.observe(len(response.results))
        if not record.allows(Capability.ADMIN):
            # Raw BM25 scores move with documents the user cannot see (IDF, lengths).
            response = response.without_raw_scores(query.offset)
        return response

    @app.get(
        "/v1/documents/{doc_id:path}",
        response_model=DocumentView,
        responses={404: {"model": ErrorBody, "description": "absent or not visible"}, **_ERRORS},
        tags=["search"],
        summary="One whole document, if the user may see it (404 otherwise, absent or not).",
    )
    async def get_document(
        request: Request,
        doc_id: str = Path(min_length=1, max_length=MAX_DOC_ID_CHARS),
        user: str = Query(
            min_length=EMAIL_MIN_CHARS,
            max_length=EMAIL_MAX_CHARS,
            pattern=EMAIL_PATTERN,
            json_schema_extra=EMAIL_FORMAT,
            description="the end user's email",
        ),
        groups: list[GroupPrincipal] = Query(default_factory=list),
        record: ApiKeyRecord = Depends(authenticate),
    ) -> DocumentView:
        require(record, Capability.SEARCH, metrics)
        _require_utf8_url(request)
        check_groups(record, groups)
        trusted = record.allows(Capability.ASSERT_GROUPS)

        def work() -> DocumentView | None:
            principals = resolver.resolve(user, asserted_groups=groups, trust_asserted=trusted)
            return searcher.get_document(principals, doc_id, caller=user, service=record.name)

        document = await run(work)
        if document is None:
            # Same answer for "absent" and "forbidden" so existence does not leak.
            raise ServiceError(404, "not_found", "no such document")
        return document

    @app.get("/healthz", response_model=Health, tags=["operations"])
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        response_model=Health,
        responses={503: {"model": Health, "description": "the index is not reachable"}},
        tags=["operations"],
    )
    async def readyz() -> Response:
        # Anonymous callers: a cached single-flight probe, off the search pool.
        problem = await readiness.problem()
        if problem is not None:
            return JSONResponse(
                Health(status="unavailable", detail=problem).model_dump(),
                503,
                headers={"Retry-After": "5"},
            )
        return JSONResponse(Health(status="ready", backend=backend_name).model_dump())

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, **_ERRORS},
        tags=["operations"],
        summary="Prometheus metrics (needs an admin key unless metrics_public is set).",
    )
    async def prometheus_metrics(
        bearer_or_header: ApiKeyRecord | None = Depends(
            _optional(authenticate, public=settings.metrics_public)
        ),
    ) -> Response:
        if bearer_or_header is not None:
            require(bearer_or_header, Capability.ADMIN, metrics)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/v1/admin/stats",
        response_model=IndexStats,
        responses=_ERRORS,
        tags=["operations"],
        summary="Index statistics (admin).",
    )
    async def admin_stats(record: ApiKeyRecord = Depends(authenticate)) -> IndexStats:
        require(record, Capability.ADMIN, metrics)
        return await run(index_stats)

    def require_admin(record: ApiKeyRecord) -> None:
        require(record, Capability.ADMIN, metrics)

    runner = Runner(run)
    runner.default_timeout_s = settings.time_budget_s
    context = ServiceContext(
        stores=stores,
        searcher=searcher,
        resolver=resolver,
        authenticate=authenticate,
        require_admin=require_admin,
        run=runner,
        metrics=metrics,
        settings=settings,
        audit=audit,
        source_ids=None if source_ids is None else tuple(source_ids),
        queue=queue,
        connector_for=connector_for,
    )
    for factory in routers:
        app.include_router(factory(context))

    app.state.metrics = metrics
    app.state.settings = settings
    app.openapi = with_service_limits(app.openapi, settings)  # type: ignore[method-assign]
    return app


def _require_utf8_url(request: Request) -> None:
    """Refuse a path or query string that is not UTF-8 once percent-decoded.

    Starlette decodes such bytes to U+FFFD, which would name a user, group or document nobody
    wrote; better to say the request is malformed.
    """
    for raw in (request.scope.get("raw_path") or b"", request.scope.get("query_string") or b""):
        try:
            urllib.parse.unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise ServiceError(
                422, "invalid_request", "the URL is not valid UTF-8 once percent-decoded"
            ) from None


def _optional(authenticate: Callable[..., Any], *, public: bool) -> Callable[..., Any]:
    """``authenticate`` unless the endpoint is configured public (then no key is needed)."""
    if not public:
        return authenticate

    async def nobody() -> None:
        return None

    return nobody


def _index_stats_of(searcher: SearchBackend) -> Callable[[], IndexStats]:
    index = getattr(searcher, "index", None)
    if index is None or not callable(getattr(index, "stats", None)):
        raise TypeError("searcher has no .index.stats(); pass stats= to create_app")
    stats: Callable[[], IndexStats] = index.stats
    return stats


class _RequestMetrics:
    """Counts and times every request by route template (not raw path: ids stay out of labels)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
