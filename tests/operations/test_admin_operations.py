"""Operator actions over the admin API: admin keys only, confirmed deletes, every call audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexer.backends import Stores
from indexer.operations.pause import SourcePausedError, check_not_paused
from tests.operations.admin_app import admin_app
from tests.operations.helpers import doc_ids, found, write_docs
from tests.retrieval.corpus import ListAuditSink


@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_pause_retention_and_a_confirmed_delete_audited(stores: Stores, tmp_path: Path) -> None:
    write_docs(stores, "wiki", 4)
    audit = ListAuditSink()
    app, as_admin, as_search = admin_app(stores, tmp_path, audit)
    with TestClient(app) as http:
        refused = http.post(
            "/v1/admin/sources/wiki/pause",
            json={},
            headers=as_search,
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
