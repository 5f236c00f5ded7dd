"""The console's operator actions: pause, resume, prune preview and delete of a source, and the
re-index. The same code as the admin API (``admin_operations``), audited the same way (an
``operator_action`` record naming the console's key, service ``console``) and recorded in the
source's control history with that key's name and id. Every action is a form post carrying the
session's CSRF token (``console.guarded``); a delete also needs the source id typed again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from indexer.operations.controls import SourceControl, control_of
from indexer.operations.delete_source import delete_source
from indexer.operations.pause import SourcePausedError, pause, resume
from indexer.operations.prune_preview import PrunePreview
from indexer.state_store import LeaseHeldError
from retrieval.service import console_action_pages as pages
from retrieval.service.admin_operations import (
    LONG_S,
    audit_action,
    operator_by,
    run_prune_preview,
    start_reindex,
    stores_of,
)
from retrieval.service.admin_operations_reindex import jobs_for
from retrieval.service.console_action_pages import Outcome
from retrieval.service.console_pages import error_page
from retrieval.service.console_sessions import ConsoleSession
from retrieval.service.errors import ServiceError
from retrieval.service.extensions import ServiceContext
from retrieval.service.keys import ApiKeyRecord

_SOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_OPERATION_ID = re.compile(r"^[0-9a-f]{32}$")
SERVICE = "console"

Handler = Callable[[Request, ConsoleSession, ApiKeyRecord], Awaitable[Response]]
Guard = Callable[..., Callable[[Request], Awaitable[Response]]]
Html = Callable[[str, int], Response]


def register(
    router: APIRouter,
    ctx: ServiceContext,
    guarded: Guard,
    html: Html,
    redirect: Callable[[str], Response],
) -> None:
    """Adds the action pages to the console's router (``guarded``: login, admin, CSRF)."""

    def source_of(request: Request) -> str:
        source_id = str(request.path_params.get("source_id", ""))
        if not _SOURCE_ID.match(source_id):
            raise ServiceError(404, "unknown_source", "no such source")
        return source_id

    async def render(
        session: ConsoleSession,
        source_id: str,
        *,
        outcome: Outcome | None = None,
        preview: PrunePreview | None = None,
        offset: int = 0,
        status: int = 200,
    ) -> Response:
        stores = stores_of(ctx)

        def work() -> tuple[SourceControl, int]:
            stores.index.refresh()
            stats = stores.index.stats().sources.get(source_id)
            return control_of(stores, source_id), stats.documents if stats else 0

        control, documents = await ctx.run(work)
        configured = None if ctx.source_ids is None else source_id in ctx.source_ids
        body = pages.source_page(
            session.csrf,
            source_id,
            control,
            documents,
            configured=configured,
            outcome=outcome,
            preview=preview,
            offset=offset,
        )
        return html(body, status)

    async def source_page(
        request: Request, session: ConsoleSession, record: ApiKeyRecord
    ) -> Response:
        return await render(session, source_of(request))

    async def pause_post(
        request: Request, session: ConsoleSession, record: ApiKeyRecord
    ) -> Response:
        source_id, started = source_of(request), time.perf_counter()
        stores = stores_of(ctx)
        reason = request.state.form.get("reason", "").strip()[:500]
        await ctx.run(
            lambda: pause(
                stores, source_id, by=operator_by(record), now=datetime.now(UTC), reason=reason
            )
        )
        audit_action(ctx, record, "pause", source_id, started, service=SERVICE)
        return await render(session, source_id, outcome=Outcome(f"Paused {source_id}."))

    async def resume_post(
        request: Request, session: ConsoleSession, record: ApiKeyRecord
    ) -> Response:
        source_id, started = source_of(request), time.perf_counter()
        stores = stores_of(ctx)

        def work() -> str | None:
            try:
                resume(stores, source_id, by=operator_by(record), now=datetime.now(UTC))
            except SourcePausedError as exc:
                return str(exc)
            return None

        refused = await ctx.run(work)
        if refused is not None:
            return await render(session, source_id, outcome=Outcome(refused, True), status=409)
        audit_action(ctx, record, "resume", source_id, started, service=SERVICE)
        return await render(session, source_id, outcome=Outcome(f"Resumed {source_id}."))

    async def preview_post(
        request: Request, session: ConsoleSession, record: ApiKeyRecord
    ) -> Response:
        source_id, started = source_of(request), time.perf_counter()
        raw = request.state.form.get("offset", "0")
        offset = int(raw) if raw.isdigit() and len(raw) < 7 else 0
        try:
            preview = await ctx.run(lambda: run_prune_preview(ctx, source_id), LONG_S)
        except ServiceError as exc:
            if exc.status not in (404, 503):
                raise
            refused = Outcome(exc.message, True)
            return await render(session, source_id, outcome=refused, status=exc.status)
        finally:
            audit_action(ctx, record, "prune-preview", source_id, started, service=SERVICE)
        return await render(session, source_id, preview=preview, offset=offset)

    async def delete_post(
        request: Request, session: ConsoleSession, record: ApiKeyRecord
    ) -> Response:
        source_id = source_of(request)
        if request.state.form.get("confirm", "").strip() != source_id:
            refused = Outcome(f"Not deleted: type {source_id} exactly to confirm.", True)
            return await render(session, source_id, outcome=refused, status=409)
        stores, started = stores_of(ctx), time.perf_counter()

        def work() -> Outcome:
            try:
                report = delete_source(
                    stores, source_id, by=operator_by(record), clock=lambda: datetime.now(UTC)
                )
            except LeaseHeldError as exc:
                return Outcome(
                    f"A run holds the source ({exc}); it is marked for deletion and starts no"
                    " new run: delete again when the run ends.",
                    True,
                )
            finished = " (finished an interrupted delete)" if report.resumed else ""
            return Outcome(
                f"Deleted {source_id}{finished}: {report.documents_deleted} documents,"
                f" {report.checkpoints_cleared} checkpoint(s), its groups and identities."
            )

        try:
            outcome = await ctx.run(work, LONG_S)
        finally:
            audit_action(ctx, record, "delete", source_id, started, service=SERVICE)
        return await render(
            session, source_id, outcome=outcome, status=409 if outcome.error else 200
        )

    async def reindex_page(
        request: Request, session: ConsoleSession, record: ApiKeyRecord
    ) -> Response:
        jobs = jobs_for(stores_of(ctx))
        wanted = request.query_params.get("operation", "")
        op = jobs.get(wanted) if _OPERATION_ID.match(wanted) else None
        if wanted and op is None:
            return html(
                error_page("Re-index", "no such re-index in this service", session.csrf), 404
            )
        return html(pages.reindex_page(session.csrf, op or jobs.latest()), 200)

    async def reindex_post(
        request: Request, session: ConsoleSession, record: ApiKeyRecord
    ) -> Response:
        jobs = jobs_for(stores_of(ctx))
        try:
            op = await ctx.run(lambda: start_reindex(ctx, record, service=SERVICE))
        except ServiceError as exc:
            if exc.status != 409:
                raise
            refused = Outcome(f"Not started: {exc.message}.", True)
            return html(pages.reindex_page(session.csrf, jobs.latest(), outcome=refused), 409)
        # Post/redirect/get: reloading the progress page never starts a second re-index.
        return redirect(f"/console/reindex?operation={op.operation_id}")

    base = "/sources/{source_id}"
    router.add_api_route(base, guarded(source_page), methods=["GET"])
    router.add_api_route(f"{base}/pause", guarded(pause_post, post=True), methods=["POST"])
    router.add_api_route(f"{base}/resume", guarded(resume_post, post=True), methods=["POST"])
    router.add_api_route(
        f"{base}/prune-preview", guarded(preview_post, post=True), methods=["POST"]
    )
    router.add_api_route(f"{base}/delete", guarded(delete_post, post=True), methods=["POST"])
    router.add_api_route("/reindex", guarded(reindex_page), methods=["GET"])
    router.add_api_route("/reindex", guarded(reindex_post, post=True), methods=["POST"])
