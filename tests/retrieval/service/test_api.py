"""The HTTP API as a calling service sees it: results, documents, limits and errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from .conftest import MakeApp, bearer


@pytest.fixture
def headers(api_keys: dict[str, str]) -> dict[str, str]:
    return bearer(api_keys["search"])


def search(http: TestClient, headers: dict[str, str], **body: object) -> list[dict[str, object]]:
    response = http.post("/v1/search", json=body, headers=headers)
    assert response.status_code == 200, response.text
    results: list[dict[str, object]] = response.json()["results"]
    return results


def test_results_carry_citations(http: TestClient, headers: dict[str, str]) -> None:
    results = search(http, headers, user="bob@acme.com", query="WireGuard VPN client")
    top = results[0]
    assert top["doc_id"] == "wiki:vpn"
    assert top["title"] == "Configuring the VPN client"
    assert top["url"] == "https://wiki.acme.test/vpn"
    assert top["source_id"] == "wiki"
    assert datetime.fromisoformat(str(top["updated_at"])).year == 2025
    assert "WireGuard" in str(top["text"])
    assert isinstance(top["score"], dict) and top["score"]["final"] is not None


@pytest.mark.parametrize("mode", ["keyword", "vector", "hybrid"])
def test_two_users_get_different_results(
    http: TestClient, headers: dict[str, str], mode: str
) -> None:
    query = "billing service deployment outage"
    alice = {
        r["doc_id"]
        for r in search(http, headers, user="alice@acme.com", query=query, mode=mode, top_k=20)
    }
    bob = {
        r["doc_id"]
        for r in search(http, headers, user="Bob@ACME.com", query=query, mode=mode, top_k=20)
    }
    assert {"wiki:deploy", "jira:INC-7"} <= alice
    assert not bob & {"wiki:deploy", "jira:INC-7", "wiki:payroll", "wiki:orphan"}


def test_document_endpoint_applies_the_same_permissions(
    http: TestClient, headers: dict[str, str]
) -> None:
    allowed = http.get(
        "/v1/documents/wiki:k8s-handbook", params={"user": "bob@acme.com"}, headers=headers
    )
    assert allowed.status_code == 200
    body = allowed.json()
    assert body["title"] == "Kubernetes handbook"
    assert [c["index"] for c in body["chunks"]] == [0, 1, 2]
    # Forbidden, empty-ACL and absent documents are indistinguishable.
    answers = [
        http.get(f"/v1/documents/{doc_id}", params={"user": "bob@acme.com"}, headers=headers)
        for doc_id in ("wiki:deploy", "wiki:orphan", "wiki:no-such-page")
    ]
    assert {a.status_code for a in answers} == {404}
    assert len({a.content for a in answers}) == 1
    # alice reaches the engineering page through her group.
    alice = http.get(
        "/v1/documents/wiki:deploy", params={"user": "alice@acme.com"}, headers=headers
    )
    assert alice.status_code == 200


def test_limits_give_clear_json_errors(http: TestClient, headers: dict[str, str]) -> None:
    base = {"user": "bob@acme.com", "query": "vpn"}
    cases = [
        ({**base, "top_k": 51}, 422, "top_k_too_large"),
        ({**base, "top_k": 0}, 422, "invalid_request"),
        ({**base, "query": "x" * 1001}, 422, "query_too_long"),
        ({**base, "query": ""}, 422, "invalid_request"),
        ({**base, "mode": "psychic"}, 422, "invalid_request"),
        ({**base, "unknown_field": 1}, 422, "invalid_request"),
        ({"query": "vpn"}, 422, "invalid_request"),
        ({**base, "user": "not an email"}, 422, "invalid_identity"),
    ]
    for body, status, code in cases:
        response = http.post("/v1/search", json=body, headers=headers)
        assert response.status_code == status, body
        error = response.json()["error"]
        assert error["code"] == code, body
        assert error["message"]
    garbled = http.post(
        "/v1/search", content=b"{not json", headers={**headers, "content-type": "application/json"}
    )
    assert garbled.status_code == 422
    assert garbled.json()["error"]["code"] == "invalid_request"


def test_oversized_bodies_are_refused_before_parsing(
    http: TestClient, headers: dict[str, str]
) -> None:
    body = {"user": "bob@acme.com", "query": "vpn", "sources": ["wiki"] * 20_000}
    response = http.post("/v1/search", json=body, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"

    def chunked() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 1024

    streamed = http.post(
        "/v1/search", content=chunked(), headers={**headers, "content-type": "application/json"}
    )
    assert streamed.status_code == 413


def test_search_over_the_time_budget_gets_504(make_app: MakeApp, api_keys: dict[str, str]) -> None:
    # No real search finishes in a microsecond, so the budget is always exceeded.
    with TestClient(make_app(time_budget_s=1e-6)) as http:
        response = http.post(
            "/v1/search",
            json={"user": "bob@acme.com", "query": "vpn"},
            headers=bearer(api_keys["search"]),
        )
        assert response.status_code == 504
        assert response.json()["error"]["code"] == "timeout"
        assert (
            'permindex_rejected_total{reason="timeout"} 1.0'
            in http.get("/metrics", headers=bearer(api_keys["admin"])).text
        )


def test_operational_endpoints(
    http: TestClient, api_keys: dict[str, str], backend_kind: str
) -> None:
    assert http.get("/healthz").json()["status"] == "ok"
    ready = http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "backend": backend_kind, "detail": None}

    search(http, bearer(api_keys["search"]), user="bob@acme.com", query="vpn")
    http.post("/v1/search", json={"user": "bob@acme.com", "query": "vpn"})  # 401
    metrics = http.get("/metrics", headers=bearer(api_keys["admin"]))
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert (
        'permindex_http_requests_total{method="POST",route="/v1/search",status="200"} 1.0' in text
    )
    assert (
        'permindex_http_requests_total{method="POST",route="/v1/search",status="401"} 1.0' in text
    )
    assert 'permindex_searches_total{mode="hybrid"} 1.0' in text
    assert "permindex_auth_failures_total" in text
    assert http.get("/metrics").status_code == 401

    stats = http.get("/v1/admin/stats", headers=bearer(api_keys["admin"])).json()
    assert stats["backend"] == backend_kind
    assert stats["documents"] == 10

    schema = http.get("/openapi.json").json()
    assert {"/v1/search", "/v1/documents/{doc_id}", "/healthz", "/readyz", "/metrics"} <= set(
        schema["paths"]
    )
    assert {"HTTPBearer", "APIKeyHeader"} <= set(schema["components"]["securitySchemes"])
    search_body = schema["components"]["schemas"]["SearchRequest"]["properties"]
    assert {"user", "groups", "query", "top_k", "mode"} <= set(search_body)
    assert http.get("/docs").status_code == 200


def test_metrics_can_be_made_public(make_app: MakeApp) -> None:
    with TestClient(make_app(metrics_public=True)) as http:
        assert http.get("/metrics").status_code == 200
