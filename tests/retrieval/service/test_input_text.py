"""Issue 7 item 17: text that is not Unicode (lone surrogates in JSON, URLs that are not UTF-8)
is refused as invalid input, never a 500 from deep inside a backend."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from .conftest import bearer

SURROGATE = "\ud800"


@pytest.mark.parametrize(
    "field",
    [
        {"sources": [SURROGATE]},
        {"doc_types": ["page", f"x{SURROGATE}"]},
        {"query": f"vpn {SURROGATE}"},
        {"user": f"bob{SURROGATE}@acme.com"},
        {"groups": [f"group:wiki:{SURROGATE}"]},
    ],
    ids=["sources", "doc_types", "query", "user", "groups"],
)
def test_lone_surrogates_are_invalid_input_not_a_crash(
    http: TestClient, api_keys: dict[str, str], field: dict[str, object]
) -> None:
    body = {"user": "bob@acme.com", "query": "vpn", "mode": "hybrid", **field}
    # json.dumps escapes the surrogate as ASCII "\ud800", exactly what a hostile client sends.
    response = http.post(
        "/v1/search",
        content=json.dumps(body),
        headers={**bearer(api_keys["trusted"]), "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] in {"invalid_request", "invalid_identity"}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/documents/wiki:vpn%ED%A0%80?user=bob@acme.com",
        "/v1/documents/wiki:vpn?user=bob%ED%A0%80@acme.com",
        "/v1/documents/wiki:vpn?user=bob@acme.com&groups=group:wiki:%ED%A0%80",
    ],
    ids=["doc_id", "user", "groups"],
)
def test_document_urls_that_are_not_utf8_are_refused(
    http: TestClient, api_keys: dict[str, str], path: str
) -> None:
    response = http.get(path, headers=bearer(api_keys["trusted"]))
    # Decoded leniently, these would name a user, group or document nobody wrote (U+FFFD).
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"
