"""Operator actions over the admin API: admin keys only, confirmed deletes, every call audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from connectors.org import OrgPolicy
from indexer.backends import Stores
from indexer.operations.pause import SourcePausedError, check_not_paused
from retrieval.identity import IdentityResolver
from retrieval.searcher import Searcher
from retrieval.service.admin_operations import operations_router
from retrieval.service.app import create_app
from retrieval.service.keys import ApiKeyStore, Capability, create_key
from retrieval.service.settings import ServiceSettings
from retrieval.settings import RetrievalSettings
from tests.operations.helpers import HashEmbedder, doc_ids, found, write_docs
from tests.retrieval.corpus import ListAuditSink

ORG = OrgPolicy(tenant="acme", domains=frozenset({"example.com"}))


@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_pause_retention_and_a_confirmed_delete_audited(stores: Stores, tmp_path: Path) -> None:
    write_docs(stores, "wiki", 4)
    keys_path = tmp_path / "keys.yaml"
    admin = create_key(keys_path, "ops", {Capability.ADMIN})[1]
    search = create_key(keys_path, "app", {Capability.SEARCH})[1]
    audit = ListAuditSink()
    settings = RetrievalSettings.model_validate({"org": ORG})
    app = create_app(
        Searcher(stores.index, HashEmbedder(8), settings, audit=audit),
        IdentityResolver(stores.directory, ORG),
        ApiKeyStore.from_file(keys_path),
        ServiceSettings(keys_file=keys_path),
        stores=stores,
        audit=audit,
        routers=[operations_router],
    )
    as_admin = {"Authorization": f"Bearer {admin}"}
    with TestClient(app) as http:
        refused = http.post(
            "/v1/admin/sources/wiki/pause",
            json={},
            headers={"Authorization": f"Bearer {search}"},
        )
        assert refused.status_code == 403
        check_not_paused(stores, "wiki")

        paused = http.post(
            "/v1/admin/sources/wiki/pause", json={"reason": "audit"}, headers=as_admin
        )
        assert paused.status_code == 200 and paused.json()["paused"]
        with pytest.raises(SourcePausedError, match="audit"):
            check_not_paused(stores, "wiki")
        kept = http.put("/v1/admin/sources/wiki/retention", json={"days": 30}, headers=as_admin)
        assert kept.json()["retention_days"] == 30

        unconfirmed = http.delete("/v1/admin/sources/wiki?confirm=drive", headers=as_admin)
        assert unconfirmed.status_code == 409
        assert len(found(stores, "wiki")) == 4
        deleted = http.delete("/v1/admin/sources/wiki?confirm=wiki", headers=as_admin)
        assert deleted.status_code == 200 and deleted.json()["documents_deleted"] == 4
        assert found(stores, "wiki") == set() and doc_ids(stores, "wiki") == set()
        control = http.get("/v1/admin/sources/wiki/control", headers=as_admin).json()
        actions = [entry["action"] for entry in control["history"]]
        assert actions == ["pause", "retention", "delete-started", "delete-finished"]
        assert all("api key ops" in entry["by"] for entry in control["history"])

    operator_actions = [r for r in audit.records if r.kind == "operator_action"]
    assert [(r.user, r.query) for r in operator_actions] == [
        ("ops", "pause wiki"),
        ("ops", "retention=30 wiki"),
        ("ops", "delete wiki"),
    ]
