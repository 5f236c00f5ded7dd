"""API key secrets never reach a log record (any logger, DEBUG and up), an HTTP body or header,
a search trace or an audit record: for a refused key, a valid key, and keys in either header."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from permindex.config import load_config
from retrieval.service.cli import retrieval_settings, service_settings
from retrieval.service.keys import parse_key
from retrieval.service.server import OpenService, open_service
from tests.api.deployment import ALICE, indexed_workspace, make_keys, secret_of

WRONG_SECRET = "wr0ng-S3CRET-never-to-be-written-anywhere"


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[tuple[OpenService, dict[str, str]]]:
    workspace = indexed_workspace(tmp_path)
    keys = make_keys(workspace)
    config = load_config(workspace.config)
    service = open_service(
        index=config.index,
        embedding=config.embedding,
        retrieval=retrieval_settings(config),
        service=service_settings(config),
    )
    try:
        yield service, keys
    finally:
        service.close()


def test_no_key_secret_is_logged_returned_traced_or_audited(
    opened: tuple[OpenService, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    service, keys = opened
    key_id = parse_key(keys["search"])
    assert key_id is not None
    # A known key id with the wrong secret: the refusal path that is most tempting to log.
    wrong = f"pmx_{key_id[0]}_{WRONG_SECRET}"
    secrets = [WRONG_SECRET, *(secret_of(key) for key in keys.values())]
    bodies: list[str] = []
    caplog.set_level(logging.DEBUG)  # every logger, the HTTP libraries' included
    with TestClient(service.app) as http:
        search = {"query": "quasar", "user": ALICE}
        for headers in (
            {"Authorization": f"Bearer {wrong}"},
            {"X-API-Key": wrong},
            {"Authorization": f"Basic {wrong}"},
            {"Authorization": f"Bearer {keys['search']}"},
            {"X-API-Key": keys["assert_groups"]},
        ):
            for response in (
                http.post("/v1/search", json=search, headers=headers),
                http.post("/v1/search", json={**search, "trace": True}, headers=headers),
                http.post("/v1/search", content=b"{not json", headers=headers),
                http.get("/v1/documents/alice/quasar.md", params={"user": ALICE}, headers=headers),
                http.get("/v1/admin/stats", headers=headers),
                http.get("/metrics", headers=headers),
            ):
                bodies.append(response.text)
                bodies.extend(f"{k}: {v}" for k, v in response.headers.items())
        grouped = {**search, "groups": ["group:docs:eng"]}
        refused = http.post("/v1/search", json=grouped, headers={"X-API-Key": keys["search"]})
        assert refused.status_code == 403, refused.text
        bodies.append(refused.text)
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        traced = http.post("/v1/search", json={**search, "trace": True}, headers=admin)
        assert traced.status_code == 200 and traced.json().get("trace"), traced.text
        assert traced.json()["results"], "the admin's traced search found nothing to trace"
        bodies.append(traced.text)
        metrics = http.get("/metrics", headers=admin)
        bodies.append(metrics.text)

    # The capture works: the refused group assertion below the loop is on the security log.
    assert [r for r in caplog.records if r.name == "permindex.security"], "nothing captured"
    logged = [f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert service.audit_file is not None
    audit = service.audit_file.read_text(encoding="utf-8")
    assert ALICE in audit, "the searches were not audited"
    for secret in secrets:
        assert not [line for line in logged if secret in line], "a key secret was logged"
        assert not [body for body in bodies if secret in body], "a key secret was returned"
        assert secret not in audit, "a key secret is in the audit file"
