"""Prune previews and re-indexing over the admin API: admin keys only, every call audited, a
re-index as a background operation that is polled to its end while search keeps answering."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.contract import Connector
from indexer.backends import Stores
from indexer.operations import reindex as reindex_module
from indexer.operations.reindex import ReindexReport
from indexer.operations.reindex_marker import ReindexMarker, marker_store_for
from indexer.operations.retention import set_retention
from retrieval.service import admin_operations_reindex as reindex_jobs
from retrieval.service.admin_operations_reindex import LEASE_KEY
from tests.conformance.builders import ALICE
from tests.connectors.scripted import Doc, ScriptedConnector
from tests.operations.admin_app import admin_app
from tests.operations.helpers import doc_ids, write_docs
from tests.retrieval.corpus import ListAuditSink


def _listing(listed: range) -> ScriptedConnector:
    docs = {f"d{i}": Doc(scope="a", body="x", acl=frozenset({ALICE})) for i in listed}
    return ScriptedConnector(source_id="wiki", docs=docs, scopes=["a"])


@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_prune_preview_pages_what_would_go_and_why_and_deletes_nothing(
    stores: Stores, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    write_docs(stores, "wiki", 6, updated_at=now - timedelta(days=400))  # d0..d5, old
    write_docs(stores, "wiki", 6, start=6, updated_at=now - timedelta(days=2))  # d6..d11
    set_retention(stores, "wiki", 90, by="ops", now=now)
    everything = doc_ids(stores, "wiki")

    def connector_for(source_id: str) -> Connector:
        if source_id != "wiki":
            raise KeyError(source_id)
        return _listing(range(3, 10))

    audit = ListAuditSink()
    app, as_admin, as_search = admin_app(stores, tmp_path, audit, connector_for)
    url = "/v1/admin/sources/wiki/prune-preview"
    with TestClient(app) as http:
        assert http.get(url, headers=as_search).status_code == 403
        assert (
            http.get("/v1/admin/sources/drive/prune-preview", headers=as_admin).status_code == 404
        )

        first = http.get(url, params={"limit": 5}, headers=as_admin)
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["listing_completed"] is True
        assert (body["not_listed"], body["expired"], body["total"]) == (5, 3, 8)
        rest = http.get(url, params={"offset": 5, "limit": 5}, headers=as_admin).json()
        assert len(body["candidates"]) == 5 and len(rest["candidates"]) == 3
        reasons = {c["doc_id"]: c["reason"] for c in body["candidates"] + rest["candidates"]}
        not_listed = {d for d, r in reasons.items() if "no longer names" in r}
        assert not_listed == {"wiki:d0", "wiki:d1", "wiki:d2", "wiki:d10", "wiki:d11"}
        expired = {d for d, r in reasons.items() if "retention 90 days" in r}
        assert expired == {"wiki:d3", "wiki:d4", "wiki:d5"}
    assert doc_ids(stores, "wiki") == everything  # a preview deletes nothing

    actions = [(r.user, r.query) for r in audit.records if r.kind == "operator_action"]
    assert actions == [
        ("ops", "prune-preview drive"),
        ("ops", "prune-preview wiki"),
        ("ops", "prune-preview wiki"),
    ]


@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_a_service_without_its_sources_refuses_the_preview(stores: Stores, tmp_path: Path) -> None:
    app, as_admin, _ = admin_app(stores, tmp_path, ListAuditSink())
    with TestClient(app) as http:
        answer = http.get("/v1/admin/sources/wiki/prune-preview", headers=as_admin)
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "no_connectors"


def _poll(http: TestClient, location: str, headers: dict[str, str]) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state: dict[str, object] = http.get(location, headers=headers).json()
        if state["status"] != "running":
            return state
        time.sleep(0.05)
    raise AssertionError(f"the re-index did not end: {state}")


@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_reindex_through_the_api_runs_in_the_background_one_at_a_time(
    stores: Stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reindex_module, "PAGE", 10)
    before = set(write_docs(stores, "wiki", 40))
    # The real re-index, held at its start until the test has seen it running.
    go = threading.Event()
    real = reindex_jobs.run_reindex

    def held(*args: Any) -> ReindexReport:
        assert go.wait(30)
        return real(*args)

    monkeypatch.setattr(reindex_jobs, "run_reindex", held)
    audit = ListAuditSink()
    app, as_admin, as_search = admin_app(stores, tmp_path, audit)
    search = {"query": "invoice", "user": ALICE.removeprefix("user:"), "top_k": 50}
    with TestClient(app) as http:
        hits = http.post("/v1/search", json=search, headers=as_search)
        assert hits.status_code == 200, hits.text
        found_before = {r["doc_id"] for r in hits.json()["results"]}
        assert found_before

        assert http.post("/v1/admin/reindex", headers=as_search).status_code == 403
        # Another process's re-index holds the index: refused, and nothing starts here.
        other = stores.state.acquire_lease(
            LEASE_KEY, "reindex:elsewhere", timedelta(minutes=1), datetime.now(UTC)
        )
        busy = http.post("/v1/admin/reindex", headers=as_admin)
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "reindex_running"
        stores.state.release_lease(other)
        # A re-index killed mid-copy left its marker: refused too, with what to run.
        markers = marker_store_for(stores.state)
        markers.put(
            ReindexMarker(
                reindex_id="killed",
                backend="embedded",
                target=str(tmp_path / "half.sqlite"),
                dimension=8,
                schema_version=1,
                started_at=datetime.now(UTC),
                by="cli",
            )
        )
        unfinished = http.post("/v1/admin/reindex", headers=as_admin)
        assert unfinished.status_code == 409, unfinished.text
        assert "--resume" in unfinished.json()["error"]["message"]
        markers.clear()

        started = http.post("/v1/admin/reindex", headers=as_admin)
        assert started.status_code == 202, started.text
        op = started.json()
        assert op["status"] == "running" and "api key ops" in op["started_by"]
        location = started.headers["location"]
        assert location == f"/v1/admin/reindex/{op['operation_id']}"
        second = http.post("/v1/admin/reindex", headers=as_admin)
        assert second.status_code == 409, second.text
        assert http.get(location, headers=as_search).status_code == 403
        running = http.get(location, headers=as_admin).json()
        assert running["status"] == "running" and running["ended_at"] is None
        # Searches meanwhile are served by the old index.
        assert http.post("/v1/search", json=search, headers=as_search).status_code == 200
        go.set()

        done = _poll(http, location, as_admin)
        assert done["status"] == "succeeded", done
        report = done["report"]
        assert isinstance(report, dict) and report["documents"] == len(before)
        assert done["copied"] == len(before)

        after = http.post("/v1/search", json=search, headers=as_search)
        assert after.status_code == 200
        assert {r["doc_id"] for r in after.json()["results"]} == found_before
        unknown = http.get("/v1/admin/reindex/" + "0" * 32, headers=as_admin)
        assert unknown.status_code == 404
    assert doc_ids(stores, "wiki") == before

    actions = [(r.query or "").split()[0] for r in audit.records if r.kind == "operator_action"]
    assert actions[0] == "reindex" and "reindex-succeeded" in actions
    assert all(r.user == "ops" for r in audit.records if r.kind == "operator_action")
