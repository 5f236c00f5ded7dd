"""Open a service from explicit settings and run it under uvicorn (``permindex serve``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from indexer.backends import Stores, open_stores
from indexer.embedding import make_embedder
from indexer.operations.prune_preview import ConnectorFor
from indexer.settings import EmbeddingSettings, IndexSettings
from indexer.status import QueueView
from retrieval.audit import AuditSink, JsonlAuditSink
from retrieval.identity import IdentityResolver
from retrieval.searcher import Searcher
from retrieval.service.access_log import log_config
from retrieval.service.admin_access import access_router
from retrieval.service.admin_operations import operations_router
from retrieval.service.admin_status import status_router
from retrieval.service.app import create_app
from retrieval.service.console import console_router
from retrieval.service.extensions import RouterFactory
from retrieval.service.keys import ApiKeyStore
from retrieval.service.settings import ServiceSettings, audit_path
from retrieval.settings import RetrievalSettings

log = logging.getLogger(__name__)


# Features beyond search; each module contributes one factory (see extensions.py).
ROUTERS: list[RouterFactory] = [status_router]
ROUTERS.append(console_router)  # /console: the operator console (issue 16)
ROUTERS.append(access_router)  # /v1/admin/access: the access explainer (issue 16)
ROUTERS.append(operations_router)  # /v1/admin/sources: pause, delete, retention (issue 16)


class NoApiKeysError(Exception):
    """The keys file holds no active key: every request would be refused."""


class AuditFileError(Exception):
    """The audit file cannot be written: the service does not answer unaudited."""


@dataclass
class OpenService:
    app: FastAPI
    stores: Stores
    searcher: Searcher
    audit_file: Path | None = None

    def close(self) -> None:
        self.stores.close()


def open_service(
    *,
    index: IndexSettings,
    embedding: EmbeddingSettings,
    retrieval: RetrievalSettings,
    service: ServiceSettings,
    audit: AuditSink | None = None,
    source_ids: Sequence[str] | None = None,
    queue: QueueView | None = None,
    connector_for: ConnectorFor | None = None,
) -> OpenService:
    keys = ApiKeyStore.from_file(service.keys_file)
    if len(keys) == 0:
        raise NoApiKeysError(
            f"no active API key in {service.keys_file}: create one with "
            "`permindex keys create NAME --capability search`"
        )
    audit_file: Path | None = None
    if audit is None:
        # Who searched for what is the first question after an incident: a real server always
        # keeps the answer, in a file, not only on a logger nobody may have configured.
        audit_file = audit_path(service, index)
        try:
            audit = JsonlAuditSink(audit_file)
        except OSError as exc:
            raise AuditFileError(f"cannot write the audit file {audit_file}: {exc}") from exc
    embedder = make_embedder(embedding)
    # Load the model before the first request, or that request would pay for it (and time out).
    embedder.embed_query("warm up")
    stores = open_stores(index, embedder.dimension)
    try:
        stores.index.ensure_schema()
        searcher = Searcher(stores.index, embedder, retrieval, audit=audit)
        resolver = IdentityResolver(stores.directory, retrieval.org)
        app = create_app(
            searcher,
            resolver,
            keys,
            service,
            stores=stores,
            audit=audit,
            routers=ROUTERS,
            source_ids=source_ids,
            queue=queue,
            connector_for=connector_for,
        )
    except BaseException:
        stores.close()
        raise
    return OpenService(app=app, stores=stores, searcher=searcher, audit_file=audit_file)


def run(opened: OpenService, service: ServiceSettings) -> None:
    """Serve until interrupted (SIGINT/SIGTERM are handled by uvicorn), then close the stores."""
    if service.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning(
            "listening on %s without TLS: put a TLS-terminating proxy in front", service.host
        )
    try:
        uvicorn.run(
            opened.app,
            host=service.host,
            port=service.port,
            log_level="info",
            # No emails (?user=) or document ids in access lines: see access_log.py.
            log_config=log_config(opened.app),
            # Requests are small; keep-alive clients are the services calling us.
            timeout_keep_alive=30,
        )
    finally:
        opened.close()
