"""API keys: who may call what. 401 without a valid key, 403 without the capability."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from retrieval.service.keys import revoke_key

from .conftest import bearer

SEARCH_BODY = {"user": "bob@acme.com", "query": "VPN client", "mode": "keyword"}


def test_missing_malformed_unknown_and_revoked_keys_get_401(
    http: TestClient, api_keys: dict[str, str]
) -> None:
    good = api_keys["search"]
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for headers in (
        {},
        bearer("not-a-key"),
        bearer("pmx_000000000000_secret"),
        bearer(forged),
        bearer(api_keys["revoked"]),
        {"X-API-Key": forged},
    ):
        response = http.post("/v1/search", json=SEARCH_BODY, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthenticated"
        assert response.headers["www-authenticate"] == "Bearer"
    # The same key works in either header.
    assert http.post("/v1/search", json=SEARCH_BODY, headers=bearer(good)).status_code == 200
    assert http.post("/v1/search", json=SEARCH_BODY, headers={"X-API-Key": good}).status_code == 200


def test_authentication_comes_before_input_validation(http: TestClient) -> None:
    response = http.post("/v1/search", json={"nonsense": True})
    assert response.status_code == 401


def test_revoking_a_key_takes_effect_without_restart(
    http: TestClient, api_keys: dict[str, str], keys_path: Path
) -> None:
    headers = bearer(api_keys["search"])
    assert http.post("/v1/search", json=SEARCH_BODY, headers=headers).status_code == 200
    assert revoke_key(keys_path, "search") == 1
    assert http.post("/v1/search", json=SEARCH_BODY, headers=headers).status_code == 401


def test_keys_file_holds_no_secret(keys_path: Path, api_keys: dict[str, str]) -> None:
    stored = keys_path.read_text()
    for key in api_keys.values():
        secret = key.split("_", 2)[2]
        assert secret not in stored
    assert keys_path.stat().st_mode & 0o077 == 0


def test_capabilities_are_enforced(http: TestClient, api_keys: dict[str, str]) -> None:
    admin_only = bearer(api_keys["admin"])
    search_only = bearer(api_keys["search"])
    response = http.post("/v1/search", json=SEARCH_BODY, headers=admin_only)
    assert response.status_code == 403
    assert "search" in response.json()["error"]["message"]
    doc = http.get("/v1/documents/wiki:vpn", params={"user": "bob@acme.com"}, headers=admin_only)
    assert doc.status_code == 403
    assert http.get("/metrics", headers=search_only).status_code == 403
    assert http.get("/v1/admin/stats", headers=search_only).status_code == 403
    # Traces list every stage's candidates: operators only.
    traced = {**SEARCH_BODY, "trace": True}
    assert http.post("/v1/search", json=traced, headers=search_only).status_code == 403
    response = http.post("/v1/search", json=traced, headers=bearer(api_keys["operator"]))
    assert response.status_code == 200
    assert response.json()["trace"]


def test_untrusted_key_cannot_assert_groups(http: TestClient, api_keys: dict[str, str]) -> None:
    body = {"user": "bob@acme.com", "query": "salary bands payroll", "groups": ["group:wiki:hr"]}
    response = http.post("/v1/search", json=body, headers=bearer(api_keys["search"]))
    assert response.status_code == 403
    assert "assert_groups" in response.json()["error"]["message"]
    document = http.get(
        "/v1/documents/wiki:payroll",
        params={"user": "bob@acme.com", "groups": ["group:wiki:hr"]},
        headers=bearer(api_keys["search"]),
    )
    assert document.status_code == 403


def test_trusted_key_asserts_groups_and_they_count(
    http: TestClient, api_keys: dict[str, str]
) -> None:
    trusted = bearer(api_keys["trusted"])
    body = {"user": "bob@acme.com", "query": "salary bands payroll", "mode": "keyword"}
    without = http.post("/v1/search", json=body, headers=trusted).json()
    assert "wiki:payroll" not in [r["doc_id"] for r in without["results"]]
    asserted = http.post(
        "/v1/search", json={**body, "groups": ["group:wiki:hr"]}, headers=trusted
    ).json()
    assert asserted["results"][0]["doc_id"] == "wiki:payroll"
    document = http.get(
        "/v1/documents/wiki:payroll",
        params={"user": "bob@acme.com", "groups": ["group:wiki:hr"]},
        headers=trusted,
    )
    assert document.status_code == 200


def test_even_a_trusted_key_cannot_assert_a_user_or_org(
    http: TestClient, api_keys: dict[str, str]
) -> None:
    for fake in ("user:carol@acme.com", "account:slack:U1", "org:other"):
        body = {"user": "bob@acme.com", "query": "payroll", "groups": [fake]}
        response = http.post("/v1/search", json=body, headers=bearer(api_keys["trusted"]))
        assert response.status_code == 422, fake
        assert response.json()["error"]["code"] == "invalid_identity"
