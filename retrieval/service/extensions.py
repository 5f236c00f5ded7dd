"""Routers beyond search (admin status, access explainer, operator actions, console).

Each feature lives in its own module as a ``RouterFactory`` and is listed once in
``retrieval.service.server.ROUTERS``; ``create_app`` calls every factory with the same
``ServiceContext`` so a feature reuses the service's authentication, capability checks, bounded
executor (which maps index outages to 503) and audit sink instead of re-implementing them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter

from indexer.backends import Stores
from indexer.operations.prune_preview import ConnectorFor
from indexer.status import QueueView
from retrieval.audit import AuditSink
from retrieval.identity import IdentityResolver
from retrieval.service.keys import ApiKeyRecord
from retrieval.service.metrics import ServiceMetrics
from retrieval.service.settings import ServiceSettings

T = TypeVar("T")


class Runner:
    """Runs blocking work on the service's bounded pool; index outages become 503, time-outs
    504, exactly as for search."""

    def __init__(self, run: Callable[[Callable[[], Any], float], Awaitable[Any]]) -> None:
        self._run = run
        self.default_timeout_s: float = 0.0

    async def __call__(self, fn: Callable[[], T], timeout_s: float | None = None) -> T:
        result: T = await self._run(fn, timeout_s or self.default_timeout_s)
        return result


@dataclass(frozen=True)
class ServiceContext:
    # ``None`` only when an app is built around a bare searcher (unit tests of search).
    stores: Stores | None
    searcher: Any
    resolver: IdentityResolver
    # FastAPI dependency: ``record: ApiKeyRecord = Depends(ctx.authenticate)``.
    authenticate: Callable[..., Awaitable[ApiKeyRecord]]
    # Raises the service's 403 (and counts it) unless the key has the admin capability.
    require_admin: Callable[[ApiKeyRecord], None]
    run: Runner
    metrics: ServiceMetrics
    settings: ServiceSettings
    # The service's audit sink (admin calls are audited like searches), if it has one.
    audit: AuditSink | None
    # The configured source ids (None: not known to this process) and the broker's view.
    source_ids: tuple[str, ...] | None = None
    queue: QueueView | None = None
    # A configured source's connector (KeyError when not configured), for prune previews.
    connector_for: ConnectorFor | None = None


RouterFactory = Callable[[ServiceContext], APIRouter]
