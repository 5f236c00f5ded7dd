"""``permindex search`` through the CLI: what each user finds, citations, and the audit record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.workspace import FOLDER_CONFIG, run_cli


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("search-cli")
    docs = root / "docs"
    (docs / "hr").mkdir(parents=True)
    (docs / ".permindex-acl.yaml").write_text("allow: [org]\n")
    (docs / "hr" / ".permindex-acl.yaml").write_text("allow: [group:hr]\ninherit: false\n")
    (docs / ".permindex-groups.yaml").write_text("groups:\n  hr: [hana@example.com]\n")
    (docs / "welcome.md").write_text("# Welcome\n\nThe office opens at nine. Salaries: ask HR.\n")
    (docs / "hr" / "salaries.md").write_text(
        "# Salary bands\n\nSalaries are reviewed in March <b>[red]each year[/red]</b>.\n"
    )
    (root / "permindex.yaml").write_text(FOLDER_CONFIG)
    code, out, err = invoke(root, "sync", "docs", "--groups", "--quiet")
    assert code == 0, out + err
    # With progress: CliRunner's stderr is not a terminal, so progress comes as plain lines.
    code, out, err = invoke(root, "sync", "docs")
    assert code == 0, out + err
    (root / "sync-stderr.txt").write_text(err)
    return root


def invoke(workspace: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(workspace, *args, columns=200)
    return result.exit_code, result.stdout, result.stderr


def audit_records(workspace: Path) -> list[dict[str, Any]]:
    path = workspace / "index-audit.jsonl"  # where `permindex serve` writes for this index
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_json_results_are_trimmed_per_user_and_audited(workspace: Path) -> None:
    before = len(audit_records(workspace)) if (workspace / "index-audit.jsonl").exists() else 0
    code, out, _ = invoke(
        workspace, "search", "salaries", "--user", "hana@example.com", "--json", "--mode", "keyword"
    )
    assert code == 0
    hana = json.loads(out)
    assert {r["doc_id"] for r in hana["results"]} == {"docs:welcome.md", "docs:hr/salaries.md"}

    code, out, _ = invoke(
        workspace, "search", "salaries", "--user", "omar@example.com", "--json", "--top-k", "5"
    )
    assert code == 0
    omar = json.loads(out)
    assert [r["doc_id"] for r in omar["results"]] == ["docs:welcome.md"]

    records = audit_records(workspace)[before:]
    assert [(r["user"], r["kind"]) for r in records] == [
        ("hana@example.com", "search"),
        ("omar@example.com", "search"),
    ]
    assert records[0]["query_id"] == hana["query_id"]
    assert sorted(records[0]["returned_doc_ids"]) == ["docs:hr/salaries.md", "docs:welcome.md"]
    assert str(records[1]["service"]).startswith("cli:")


def test_table_cites_documents_and_marks_highlights(workspace: Path) -> None:
    code, out, err = invoke(
        workspace, "search", "reviewed", "--user", "hana@example.com", "--mode", "keyword"
    )
    assert code == 0, err
    assert "docs:hr/salaries.md" in out
    assert "Salary bands" in out
    # Source text is shown literally: neither HTML nor rich markup from a document is interpreted.
    assert "<b>[red]each year[/red]</b>" in out
    assert "audited in" in err

    code, out, _ = invoke(
        workspace, "search", "reviewed", "--user", "omar@example.com", "--mode", "keyword"
    )
    assert code == 0
    assert "salaries.md" not in out
    assert "nothing visible to omar@example.com" in out


def test_outsider_and_bad_input(workspace: Path) -> None:
    # Outside the org: the org-wide page is not theirs either.
    code, out, _ = invoke(workspace, "search", "office", "--user", "eve@elsewhere.test", "--json")
    assert code == 0
    assert json.loads(out)["results"] == []

    code, _, err = invoke(workspace, "search", "office", "--user", "not an email")
    assert code == 2
    assert "cannot resolve caller" in err

    code, _, err = invoke(workspace, "search", "office", "--user", "a@example.com", "--mode", "x")
    assert code == 2
    assert "mode" in err


def test_sync_progress_is_plain_lines_off_a_terminal(workspace: Path) -> None:
    lines = (workspace / "sync-stderr.txt").read_text().splitlines()
    assert lines[0] == "docs incremental: started"
    assert lines[1].startswith("docs incremental: succeeded after ")
    assert "2 documents, 2 chunks" in lines[1]
