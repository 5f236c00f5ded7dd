"""The operator console: server-rendered pages under ``/console`` (admin key; no scripts, no
build step, no external resources).

Pages: sources and scopes with status, lag, next run and last error (``indexer.status``, the
report ``permindex status`` and ``GET /v1/admin/status`` print); the run history (the state
store's run records); the access explainer form (``retrieval.access.explain``); a source's
operator actions and the re-index (``console_actions``).

Authentication: the admin key is typed into a login form (never carried in a URL) and kept
server-side (``console_sessions``); the browser gets an HttpOnly, SameSite=Strict session
cookie, Secure when the request came over TLS. Every request verifies the key again and
requires the admin capability. Every form post carries a CSRF token: the login form a
double-submit token (cookie and field), the others the session's token."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from indexer.status import status_report
from retrieval.service import console_actions
from retrieval.service import console_pages as pages
from retrieval.service.console_sessions import ConsoleSession, SessionStore, new_token, same_token
from retrieval.service.errors import ServiceError
from retrieval.service.extensions import ServiceContext
from retrieval.service.keys import ApiKeyRecord

PREFIX = "/console"
SESSION_COOKIE = "pmx_console"
LOGIN_COOKIE = "pmx_console_login"
RUN_HISTORY = 100
MAX_FIELD_CHARS = 4096

# No scripts, no frames, no third parties; styles only from our own stylesheet.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class _LoginRequired(Exception):
    pass


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def _redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303, headers=SECURITY_HEADERS)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the body size is already bounded by the service)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    fields = urllib.parse.parse_qs(raw, keep_blank_values=True, max_num_fields=20)
    return {k: v[0][:MAX_FIELD_CHARS] for k, v in fields.items() if v}


def console_router(ctx: ServiceContext) -> APIRouter:
    sessions = SessionStore()
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    async def verify(api_key: str) -> ApiKeyRecord:
        # The service's own authentication and capability check, not a second implementation.
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=api_key)
        record = await ctx.authenticate(bearer=credentials, header_key=None)
        ctx.require_admin(record)
        return record

    async def session_of(request: Request) -> tuple[ConsoleSession, ApiKeyRecord]:
        session = sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            raise _LoginRequired
        try:
            record = await verify(session.api_key)
        except ServiceError as exc:
            # Revoked, or no longer admin: the session ends with the key.
            sessions.drop(session.session_id)
            raise _LoginRequired from exc
        return session, record

    def guarded(
        handler: Callable[[Request, ConsoleSession, ApiKeyRecord], Awaitable[Response]],
        *,
        post: bool = False,
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                session, record = await session_of(request)
            except _LoginRequired:
                return _redirect(f"{PREFIX}/login")
            if post:
                form = await _form(request)
                if not same_token(form.get("csrf"), session.csrf):
                    return _html(
                        pages.error_page(
                            "Refused", "the form was stale: reload and try again", None
                        ),
                        403,
                    )
                request.state.form = form
            try:
                return await handler(request, session, record)
            except ServiceError as exc:
                return _html(pages.error_page("Unavailable", exc.message, session.csrf), exc.status)

        return endpoint

    # -- login ------------------------------------------------------------------------------

    def login_form(request: Request, error: str | None = None, status: int = 200) -> Response:
        token = new_token()
        response = _html(pages.login_page(token, error), status)
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
            path=PREFIX,
            max_age=3600,
        )
        return response

    @router.get("/login")
    async def login_get(request: Request) -> Response:
        return login_form(request)

    @router.post("/login")
    async def login_post(request: Request) -> Response:
        form = await _form(request)
        expected = request.cookies.get(LOGIN_COOKIE)
        if expected is None or not same_token(form.get("csrf"), expected):
            return login_form(request, "the login form was stale: try again", 403)
        api_key = form.get("api_key", "").strip()
        try:
            await verify(api_key)
        except ServiceError as exc:
            message = (
                "that key is not an admin key"
                if exc.status == 403
                else "invalid or revoked API key"
                if exc.status == 401
                else exc.message
            )
            return login_form(request, message, exc.status)
        session = sessions.create(api_key)
        response = _redirect(f"{PREFIX}/")
        response.set_cookie(
            SESSION_COOKIE,
            session.session_id,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
            path=PREFIX,
        )
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    async def logout(request: Request, session: ConsoleSession, _: ApiKeyRecord) -> Response:
        sessions.drop(session.session_id)
        response = _redirect(f"{PREFIX}/login")
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    router.add_api_route("/logout", guarded(logout, post=True), methods=["POST"])

    @router.get("/static/console.css")
    async def stylesheet() -> Response:
        return Response(
            pages.STYLESHEET,
            media_type="text/css",
            headers={**SECURITY_HEADERS, "Cache-Control": "max-age=300"},
        )

    # -- pages ------------------------------------------------------------------------------

    async def sources(request: Request, session: ConsoleSession, _: ApiKeyRecord) -> Response:
        stores = ctx.stores
        if stores is None:
            raise ServiceError(503, "no_stores", "this service was built without its stores")
        configured = ctx.source_ids or ()
        queue = ctx.queue

        def work() -> str:
            report = status_report(
                stores.state, stores.index, configured, datetime.now(UTC), queue=queue
            )
            known = ctx.source_ids is not None
            return pages.sources_page(report, session.csrf, configuration_known=known)

        return _html(await ctx.run(work))

    async def runs(request: Request, session: ConsoleSession, _: ApiKeyRecord) -> Response:
        stores = ctx.stores
        if stores is None:
            raise ServiceError(503, "no_stores", "this service was built without its stores")
        chosen = request.query_params.get("source") or None

        def work() -> str:
            history = stores.state.recent_runs(chosen, limit=RUN_HISTORY)
            known = {run.source_id for run in stores.state.recent_runs(None, limit=500)}
            known.update(ctx.source_ids or ())
            return pages.runs_page(history, sorted(known), chosen, session.csrf)

        return _html(await ctx.run(work))

    async def access_form(request: Request, session: ConsoleSession, _: ApiKeyRecord) -> Response:
        try:
            import retrieval.access.explain  # noqa: F401
        except ImportError as exc:
            return _html(pages.access_page(session.csrf, unavailable=str(exc)))
        return _html(pages.access_page(session.csrf))

    async def access_answer(
        request: Request, session: ConsoleSession, record: ApiKeyRecord
    ) -> Response:
        form: dict[str, str] = request.state.form
        user = form.get("user", "").strip()
        doc_id = form.get("doc_id", "").strip()
        try:
            from retrieval.access.explain import IdentityError, explain_access
        except ImportError as exc:
            return _html(pages.access_page(session.csrf, unavailable=str(exc)))
        stores = ctx.stores
        if stores is None:
            raise ServiceError(503, "no_stores", "this service was built without its stores")
        if not user or not doc_id:
            body = pages.access_page(
                session.csrf, user=user, doc_id=doc_id, error="give a user email and a document id"
            )
            return _html(body, 422)
        started = time.perf_counter()
        try:
            answer = await ctx.run(lambda: explain_access(stores, ctx.resolver, user, doc_id))
        except IdentityError as exc:
            body = pages.access_page(session.csrf, user=user, doc_id=doc_id, error=str(exc))
            return _html(body, 422)
        except ServiceError as exc:
            if exc.status != 422:
                raise
            body = pages.access_page(session.csrf, user=user, doc_id=doc_id, error=exc.message)
            return _html(body, 422)
        if ctx.audit is not None:
            # The admin API's audit record: the console is one more way to ask.
            from retrieval.access.audit import explain_record

            latency = (time.perf_counter() - started) * 1000.0
            ctx.audit.record(
                explain_record(answer, asker=record.name, service="console", latency_ms=latency)
            )
        result = pages.explanation_html(answer)
        return _html(pages.access_page(session.csrf, user=user, doc_id=doc_id, result=result))

    router.add_api_route("/", guarded(sources), methods=["GET"])
    router.add_api_route("/runs", guarded(runs), methods=["GET"])
    router.add_api_route("/access", guarded(access_form), methods=["GET"])
    router.add_api_route("/access", guarded(access_answer, post=True), methods=["POST"])
    # /sources/{id} (pause, resume, prune preview, delete) and /reindex.
    console_actions.register(router, ctx, guarded, _html, _redirect)

    @router.get("")
    async def bare() -> Response:
        return _redirect(f"{PREFIX}/")

    return router
