"""The service the admin-operation tests call: the operations router over given stores, with an
admin key and a search-only key."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from connectors.org import OrgPolicy
from indexer.backends import Stores
from indexer.operations.prune_preview import ConnectorFor
from retrieval.identity import IdentityResolver
from retrieval.searcher import Searcher
from retrieval.service.admin_operations import operations_router
from retrieval.service.app import create_app
from retrieval.service.keys import ApiKeyStore, Capability, create_key
from retrieval.service.settings import ServiceSettings
from retrieval.settings import RetrievalSettings
from tests.operations.helpers import HashEmbedder
from tests.retrieval.corpus import ListAuditSink

ORG = OrgPolicy(tenant="acme", domains=frozenset({"example.com"}))


def admin_app(
    stores: Stores,
    tmp_path: Path,
    audit: ListAuditSink,
    connector_for: ConnectorFor | None = None,
) -> tuple[FastAPI, dict[str, str], dict[str, str]]:
    """The app, then the admin key's and the search key's headers."""
    keys_path = tmp_path / "keys.yaml"
    admin = create_key(keys_path, "ops", {Capability.ADMIN})[1]
    search = create_key(keys_path, "app", {Capability.SEARCH})[1]
    settings = RetrievalSettings.model_validate({"org": ORG})
    app = create_app(
        Searcher(stores.index, HashEmbedder(8), settings, audit=audit),
        IdentityResolver(stores.directory, ORG),
        ApiKeyStore.from_file(keys_path),
        ServiceSettings(keys_file=keys_path),
        stores=stores,
        audit=audit,
        routers=[operations_router],
        connector_for=connector_for,
    )
    return app, {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {search}"}
