"""``permindex access explain|who`` through the CLI, and the same through the admin API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexer.backends import open_stores
from indexer.embedding import HashingEmbedder
from permindex.config import load_config
from retrieval.audit import AuditRecord
from retrieval.identity import IdentityResolver
from retrieval.searcher import Searcher
from retrieval.service.admin_access import access_router
from retrieval.service.app import create_app
from retrieval.service.keys import ApiKeyStore, Capability, create_key
from retrieval.service.settings import ServiceSettings
from retrieval.settings import RetrievalSettings
from tests.cli.workspace import run_cli


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("access-cli")
    docs = root / "docs"
    (docs / "hr").mkdir(parents=True)
    (docs / ".permindex-acl.yaml").write_text("allow: [org]\n")
    (docs / "hr" / ".permindex-acl.yaml").write_text("# HR only\nallow: [group:hr]\n")
    (docs / ".permindex-groups.yaml").write_text(
        "groups:\n  hr: [group:payroll]\n  payroll: [hana@example.com]\n"
    )
    (docs / "welcome.md").write_text("# Welcome\n\nThe office opens at nine.\n")
    (docs / "hr" / "salaries.md").write_text("# Salary bands\n\nReviewed in March.\n")
    (root / "permindex.yaml").write_text(
        "tenant: acme\norg:\n  domains: [example.com]\n"
        "index:\n  embedded:\n    path: index.sqlite\n"
        'embedding:\n  model: "hashing:32"\n'
        "sources:\n  - type: folder\n    id: docs\n    path: docs\n"
    )
    for args in (("sync", "docs", "--groups", "--quiet"), ("sync", "docs", "--quiet")):
        code, out, err = invoke(root, *args)
        assert code == 0, out + err
    return root


def invoke(workspace: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(workspace, *args, columns=220)
    return result.exit_code, result.stdout, result.stderr


def _audit(workspace: Path) -> list[dict[str, object]]:
    path = workspace / "audit.jsonl"
    candidates = [path] if path.exists() else sorted(workspace.rglob("*audit*.jsonl"))
    return [json.loads(line) for p in candidates for line in p.read_text().splitlines()]


def test_explain_on_the_cli_names_the_sidecar_line_and_the_group_path(workspace: Path) -> None:
    code, out, _ = invoke(
        workspace, "access", "explain", "--user", "hana@example.com", "--doc", "docs:hr/salaries.md"
    )
    assert code == 0, out
    assert "VISIBLE" in out and "NOT VISIBLE" not in out
    assert "hr/.permindex-acl.yaml line 2" in out
    assert "user:hana@example.com -> group:docs:payroll -> group:docs:hr" in out

    code, out, _ = invoke(
        workspace,
        "access",
        "explain",
        "--user",
        "bob@example.com",
        "--doc",
        "docs:hr/salaries.md",
        "--json",
    )
    assert code == 0
    answer = json.loads(out)
    assert answer["verdict"] == "not_visible"
    assert [layer["admits"] for layer in answer["layers"]] == [True, False]
    assert answer["org"]["member"] and "verified domain example.com" in answer["org"]["reason"]
    audited = [r for r in _audit(workspace) if r["kind"] == "access_explain"]
    assert {r["subject"] for r in audited} >= {"hana@example.com", "bob@example.com"}

    code, _, err = invoke(
        workspace, "access", "explain", "--user", "not-an-address", "--doc", "docs:welcome.md"
    )
    assert code == 2 and "error" in err


def test_who_on_the_cli_lists_group_members(workspace: Path) -> None:
    code, out, _ = invoke(workspace, "access", "who", "--doc", "docs:hr/salaries.md", "--json")
    assert code == 0, out
    audience = json.loads(out)
    assert [m["principal"] for m in audience["members"]] == ["user:hana@example.com"]
    assert [layer["admits"] for layer in audience["per_layer"]] == [0, 1]
    assert audience["per_layer"][0]["org_wide"]
    code, out, _ = invoke(workspace, "access", "who", "--doc", "docs:welcome.md")
    assert code == 0 and "admits the organisation org:acme" in out


class _Audit:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(self, record: AuditRecord) -> None:
        self.records.append(record)


def test_admin_api_explains_for_admin_keys_only_and_audits(workspace: Path, tmp_path: Path) -> None:
    config = load_config(workspace / "permindex.yaml")
    keys_path = tmp_path / "keys.yaml"
    admin = create_key(keys_path, "ops", {Capability.ADMIN})[1]
    search = create_key(keys_path, "app", {Capability.SEARCH})[1]
    stores = open_stores(config.index, 32)
    audit = _Audit()
    try:
        resolver = IdentityResolver(stores.directory, config.org_policy)
        searcher = Searcher(stores.index, HashingEmbedder(32), RetrievalSettings())
        service = create_app(
            searcher,
            resolver,
            ApiKeyStore.from_file(keys_path),
            ServiceSettings(keys_file=keys_path),
            stores=stores,
            audit=audit,
            routers=[access_router],
        )
        query = {"user": "bob@example.com", "doc_id": "docs:hr/salaries.md"}
        with TestClient(service) as http:
            refused = http.get(
                "/v1/admin/access/explain",
                params=query,
                headers={"Authorization": f"Bearer {search}"},
            )
            assert refused.status_code == 403
            assert http.get("/v1/admin/access/explain", params=query).status_code == 401
            ok = http.get(
                "/v1/admin/access/explain",
                params=query,
                headers={"Authorization": f"Bearer {admin}"},
            )
            who = http.get(
                "/v1/admin/access/who",
                params={"doc_id": "docs:hr/salaries.md"},
                headers={"Authorization": f"Bearer {admin}"},
            )
            bad = http.get(
                "/v1/admin/access/explain",
                params={"user": "nobody", "doc_id": "docs:welcome.md"},
                headers={"Authorization": f"Bearer {admin}"},
            )
    finally:
        stores.close()
    assert ok.status_code == 200
    body = ok.json()
    assert body["verdict"] == "not_visible" and body["title"] == "Salary bands"
    assert "Reviewed in March" not in ok.text  # never the content
    assert who.status_code == 200 and who.json()["total"] == 1
    assert bad.status_code == 422
    kinds = [(r.kind, r.user, r.subject) for r in audit.records if r.kind.startswith("access")]
    assert kinds == [("access_explain", "ops", "bob@example.com"), ("access_who", "ops", None)]
