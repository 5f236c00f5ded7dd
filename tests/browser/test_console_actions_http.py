"""The console's operator actions over HTTP (no browser): CSRF, confirmation, who may act, what
is audited, escaping, and a re-index started and followed from the console."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexer.operations.controls import control_of
from indexer.operations.reindex import ReindexReport
from retrieval.service import admin_operations_reindex as reindex_jobs
from retrieval.service.admin_operations_reindex import jobs_for
from tests.browser.actions_deployment import actions_deployment
from tests.browser.conftest import Deployment
from tests.browser.test_console_http import client, csrf_of, log_in


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    yield from actions_deployment(tmp_path_factory.mktemp("console-actions-http"))


@pytest.fixture
def http(deployment: Deployment) -> TestClient:
    return client(deployment)


def _documents(deployment: Deployment, source: str) -> int:
    index = deployment.opened.stores.index
    index.refresh()
    stats = index.stats().sources.get(source)
    return stats.documents if stats else 0


def _operator_actions(deployment: Deployment) -> list[dict[str, object]]:
    assert deployment.opened.audit_file is not None
    lines = deployment.opened.audit_file.read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return [r for r in records if r.get("kind") == "operator_action"]


def test_actions_need_an_admin_session_and_the_session_token(
    http: TestClient, deployment: Deployment
) -> None:
    stores = deployment.opened.stores
    # No session: even the admin key in a header is sent to the login form, and nothing changes.
    for key in (deployment.admin_key, deployment.search_key):
        answer = http.post(
            "/console/sources/docs/pause",
            data={"csrf": "x", "reason": "nope"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
    form = http.get("/console/login")
    refused = http.post(
        "/console/login", data={"csrf": csrf_of(form.text), "api_key": deployment.search_key}
    )
    assert refused.status_code == 403

    csrf = log_in(http, deployment.admin_key)
    for path in ("pause", "delete", "prune-preview"):
        forged = http.post(
            f"/console/sources/scratch/{path}", data={"csrf": "forged", "confirm": "scratch"}
        )
        assert forged.status_code == 403, path
        assert "stale" in forged.text
    started = http.post("/console/reindex", data={})
    assert started.status_code == 403
    assert jobs_for(stores).latest() is None
    control = control_of(stores, "scratch")
    assert not control.paused and not control.deleting
    assert _documents(deployment, "scratch") == 2

    paused = http.post("/console/sources/docs/pause", data={"csrf": csrf, "reason": "<i>x</i>"})
    assert paused.status_code == 200 and "Paused docs." in paused.text
    assert "&lt;i&gt;x&lt;/i&gt;" in paused.text and "<i>x</i>" not in paused.text
    control = control_of(stores, "docs")
    assert control.paused and control.history[-1].action == "pause"
    by = control.history[-1].by
    assert "console-admin" in by and deployment.admin_key not in by
    resumed = http.post("/console/sources/docs/resume", data={"csrf": csrf})
    assert resumed.status_code == 200 and not control_of(stores, "docs").paused

    actions = [(r["service"], r["user"], r["query"]) for r in _operator_actions(deployment)]
    assert ("console", "console-admin", "pause docs") in actions
    assert ("console", "console-admin", "resume docs") in actions


def test_a_delete_needs_the_source_id_typed_exactly(
    http: TestClient, deployment: Deployment
) -> None:
    csrf = log_in(http, deployment.admin_key)
    for typed in ("", "scratc", "SCRATCH", "docs"):
        answer = http.post("/console/sources/scratch/delete", data={"csrf": csrf, "confirm": typed})
        assert answer.status_code == 409, typed
        assert "Not deleted" in answer.text
    assert _documents(deployment, "scratch") == 2
    assert not control_of(deployment.opened.stores, "scratch").deleting
    assert not any(r["query"] == "delete scratch" for r in _operator_actions(deployment))


def test_prune_preview_escapes_what_it_lists(http: TestClient, deployment: Deployment) -> None:
    csrf = log_in(http, deployment.admin_key)
    answer = http.post("/console/sources/wiki/prune-preview", data={"csrf": csrf})
    assert answer.status_code == 200, answer.text
    assert "wiki:old &lt;b&gt;page&lt;/b&gt;.md" in answer.text
    assert "<b>page</b>" not in answer.text
    assert "1 no longer listed by the source" in answer.text
    assert _documents(deployment, "wiki") == 2  # a preview deletes nothing
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")


def test_reindex_from_the_console_one_at_a_time(
    http: TestClient, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real re-index, held at its start until the second start has been refused.
    go = threading.Event()
    real = reindex_jobs.run_reindex

    def held(*args: Any) -> ReindexReport:
        assert go.wait(30)
        return real(*args)

    monkeypatch.setattr(reindex_jobs, "run_reindex", held)
    csrf = log_in(http, deployment.admin_key)
    page = http.get("/console/reindex")
    assert page.status_code == 200 and 'id="reindex-start"' in page.text
    started = http.post("/console/reindex", data={"csrf": csrf})
    assert started.status_code == 303
    location = started.headers["location"]
    operation_id = location.rsplit("=", 1)[1]
    jobs = jobs_for(deployment.opened.stores)
    second = http.post("/console/reindex", data={"csrf": csrf})
    assert second.status_code == 409 and "Not started" in second.text
    running = http.get(location).text
    assert '<strong id="reindex-status">running</strong>' in running
    assert 'id="reindex-start"' not in running and 'id="reindex-refresh"' in running
    go.set()
    done = jobs.wait(operation_id, 60)
    assert done is not None and done.status == "succeeded", done
    shown = http.get(location)
    assert shown.status_code == 200
    assert '<strong id="reindex-status">succeeded</strong>' in shown.text
    assert http.get("/console/reindex?operation=" + "0" * 32).status_code == 404
    assert _documents(deployment, "docs") == 1  # served from the new index
    queries = [r["query"] for r in _operator_actions(deployment)]
    assert f"reindex {operation_id}" in queries
    assert f"reindex-succeeded {operation_id}" in queries
