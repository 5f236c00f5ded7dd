"""Issue 7, items 12-17: the security defects found by probing ``permindex serve``, checked
against a real ``permindex serve`` process over HTTP, as the probe found them.

The deployment (``conftest.py``) is indexed with ``permindex sync`` from a folder with sidecars,
its keys made with ``permindex keys create``, and every command runs from a working directory
other than the config's folder.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

import httpx

from tests.security.conftest import ALICE, BOB, Deployment
from tests.security.serve import SOURCE

MARK = re.compile(r"</?em>")


def search(deployment: Deployment, key: str, query: str, **extra: object) -> list[dict[str, Any]]:
    with deployment.server.client(deployment.keys[key]) as http:
        response = http.post("/v1/search", json={"user": ALICE, "query": query, **extra})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def raw_post(deployment: Deployment, key: str, body: str) -> httpx.Response:
    """A JSON body sent as written: ``json.dumps`` spells a lone surrogate as ``"\\ud800"``."""
    with deployment.server.client(deployment.keys[key]) as http:
        return http.post("/v1/search", content=body, headers={"content-type": "application/json"})


# -- item 12 ---------------------------------------------------------------------------------


def test_highlights_of_a_hostile_document_are_inert_text(deployment: Deployment) -> None:
    for mode in ("keyword", "hybrid", "vector"):
        [hit] = [
            r
            for r in search(deployment, "search", "quasar alarm", mode=mode)
            if r["doc_id"] == f"{SOURCE}:alice/quasar.md"
        ]
        assert hit["highlights"], mode
        for fragment in hit["highlights"]:
            unmarked = MARK.sub("", fragment)
            assert "<" not in unmarked and ">" not in unmarked, (mode, fragment)
            assert "<em>" in fragment, (mode, fragment)
        joined = " ".join(hit["highlights"])
        assert "&lt;img" in joined, mode
        # Already an entity in the source: escaped once more, so it shows as written.
        assert "&amp;lt;script&amp;gt;" in joined, mode


# -- item 13 ---------------------------------------------------------------------------------


def test_a_search_key_sees_no_raw_scores_and_hidden_documents_do_not_move_them(
    deployment: Deployment,
) -> None:
    def view(key: str, mode: str) -> list[dict[str, Any]]:
        return [
            {"doc_id": r["doc_id"], **r["score"]}
            for r in search(deployment, key, "billing outage", mode=mode)
        ]

    before = {mode: view("search", mode) for mode in ("keyword", "hybrid")}
    raw_before = view("operator", "keyword")
    assert len(before["keyword"]) == 2
    for results in before.values():
        for result in results:
            assert result["keyword"] is None and result["vector"] is None, result
            assert result["fused"] is None and result["rerank"] is None, result
    assert raw_before[0]["keyword"] is not None

    # Carol's documents, full of the same words, are added and indexed by a normal sync.
    workspace = deployment.workspace
    for i in range(8):
        text = f"# Outage {i}\n\nbilling outage, billing outage {i}\n"
        workspace.write(f"hidden/outage-{i}.md", text)
    workspace.sync()

    raw_after = view("operator", "keyword")
    assert raw_after[0]["doc_id"] == raw_before[0]["doc_id"]
    assert raw_after[0]["keyword"] != raw_before[0]["keyword"]  # the channel is real
    assert {mode: view("search", mode) for mode in ("keyword", "hybrid")} == before


# -- item 14 ---------------------------------------------------------------------------------


def audit_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_search_and_document_read_leaves_one_audit_record(deployment: Deployment) -> None:
    audit = deployment.workspace.root / "index-audit.jsonl"
    before = len(audit_records(audit))
    results = search(deployment, "search", "billing outage", mode="keyword")
    with deployment.server.client(deployment.keys["search"]) as http:
        denied = http.get(f"/v1/documents/{SOURCE}:bob/zebrafish.md", params={"user": ALICE})
    assert denied.status_code == 404
    records = audit_records(audit)[before:]
    assert [r["kind"] for r in records] == ["search", "document"]
    searched, fetched = records
    assert (searched["service"], searched["user"], searched["query"]) == (
        "support-bot",
        ALICE,
        "billing outage",
    )
    assert searched["returned_doc_ids"] == [r["doc_id"] for r in results]
    assert fetched["filters"] == {"doc_id": f"{SOURCE}:bob/zebrafish.md"}
    assert fetched["returned_doc_ids"] == []
    # Who asked for what is personal data: readable by the service's own account only.
    assert stat.S_IMODE(audit.stat().st_mode) & 0o077 == 0
    assert not (deployment.workspace.elsewhere / "index-audit.jsonl").exists()


def access_log(deployment: Deployment, wanted: str) -> list[str]:
    """uvicorn's access lines so far, once one containing ``wanted`` has been written."""
    for _ in range(100):
        lines = [line for line in deployment.server.stderr().splitlines() if "HTTP/1.1" in line]
        if any(wanted in line for line in lines):
            return lines
        time.sleep(0.05)
    raise AssertionError(f"no access line with {wanted!r}:\n{deployment.server.stderr()}")


def test_the_access_log_names_no_user_and_no_document(deployment: Deployment) -> None:
    with deployment.server.client(deployment.keys["search"]) as http:
        read = http.get(
            f"/v1/documents/{SOURCE}:alice/quasar.md", params={"user": ALICE, "groups": []}
        )
        assert read.status_code == 200
        absent = http.get(f"/v1/documents/{SOURCE}:alice/payroll-{BOB}.md", params={"user": BOB})
        assert absent.status_code == 404
    lines = access_log(deployment, "/v1/documents/")
    documents = [line for line in lines if "/v1/documents/" in line]
    assert len(documents) >= 2
    for line in lines:
        assert "acme.com" not in line and "%40" not in line, line
        assert "quasar.md" not in line and "payroll" not in line, line
        assert "?" not in line, line
    assert all("/v1/documents/{doc_id}" in line for line in documents)


# -- item 15 ---------------------------------------------------------------------------------


def test_a_readiness_flood_does_not_starve_searches(deployment: Deployment) -> None:
    """The deployment has one search worker and no queue, so a readiness call holding it for
    even a moment turns a concurrent search into a 503."""
    url = deployment.server.url
    headers = {"Authorization": f"Bearer {deployment.keys['search']}"}

    async def flood(client: httpx.AsyncClient, stop: asyncio.Event) -> list[int]:
        statuses = []
        while not stop.is_set():
            statuses.append((await client.get("/readyz")).status_code)
        return statuses

    async def scenario() -> tuple[list[int], list[int]]:
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            stop = asyncio.Event()
            floods = [asyncio.ensure_future(flood(client, stop)) for _ in range(40)]
            await asyncio.sleep(0.2)
            searches = []
            for _ in range(20):
                response = await client.post(
                    "/v1/search",
                    json={"user": ALICE, "query": "billing outage", "mode": "keyword"},
                    headers=headers,
                )
                searches.append(response.status_code)
            stop.set()
            ready = [status for statuses in await asyncio.gather(*floods) for status in statuses]
            return searches, ready

    searches, ready = asyncio.run(scenario())
    assert searches == [200] * 20
    assert len(ready) >= 40 and set(ready) == {200}


# -- item 16 ---------------------------------------------------------------------------------


def metric(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_metrics_serve_acl_violations_and_search_latency(deployment: Deployment) -> None:
    # An index bug, made by hand: the principal table admits alice to bob's document while the
    # document's own ACL (what the re-check reads) still says bob.
    index_file = deployment.workspace.index_file
    with sqlite3.connect(index_file, timeout=30) as db:
        db.execute(
            "INSERT INTO doc_principals (principal, doc_rowid)"
            " SELECT ?, doc_rowid FROM documents WHERE doc_id = ?",
            (f"user:{ALICE}", f"{SOURCE}:bob/zebrafish.md"),
        )
    db.close()
    with deployment.server.client(deployment.keys["admin"]) as admin:
        before = admin.get("/metrics").text
        results = search(deployment, "search", "zebrafish", mode="keyword")
        after = admin.get("/metrics").text
    assert results == []  # the re-check dropped it...
    violations = "permindex_retrieval_acl_violations_total"
    stage = 'stage="keyword_leg"'
    # ...and the operator's scrape shows it, next to the search latency.
    assert metric(after, violations, stage) == metric(before, violations, stage) + 1
    latency = "permindex_retrieval_search_seconds_count"
    assert metric(after, latency, 'mode="keyword"') == metric(before, latency, 'mode="keyword"') + 1


# -- item 17 ---------------------------------------------------------------------------------


def test_text_that_is_not_unicode_is_a_422_not_a_500(deployment: Deployment) -> None:
    base = {"user": ALICE, "query": "billing"}
    bodies = [
        {**base, "sources": ["\ud800"]},
        {**base, "doc_types": ["page", "\udfff"]},
        {**base, "query": "billing \ud800"},
        {**base, "user": "alice\ud800@acme.com"},
        {**base, "groups": ["group:docs:\ud800"]},
    ]
    for body in bodies:
        response = raw_post(deployment, "trusted", json.dumps(body))
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] in {"invalid_request", "invalid_identity"}
    with deployment.server.client(deployment.keys["trusted"]) as http:
        for path in (
            f"/v1/documents/{SOURCE}:alice/quasar.md%ED%A0%80?user={ALICE}",
            f"/v1/documents/{SOURCE}:alice/quasar.md?user=alice%ED%A0%80@acme.com",
        ):
            response = http.get(path)
            assert response.status_code == 422, (path, response.text)
    assert "Traceback" not in deployment.server.stderr()


def test_keys_made_from_another_folder_land_next_to_the_config(deployment: Deployment) -> None:
    workspace = deployment.workspace
    elsewhere = workspace.elsewhere
    created = workspace.cli("keys", "create", "late-bot", cwd=elsewhere)
    key = created.stdout.strip().splitlines()[-1]
    assert str(workspace.root / "keys.yaml") in created.stderr
    assert not (elsewhere / "keys.yaml").exists()
    # The running service (which reads the config's keys file) accepts it at once.
    with deployment.server.client(key) as http:
        response = http.post("/v1/search", json={"user": ALICE, "query": "billing"})
    assert response.status_code == 200, response.text
    listed = workspace.cli("keys", "list", cwd=elsewhere)
    assert "late-bot" in listed.stdout
