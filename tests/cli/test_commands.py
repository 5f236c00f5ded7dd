"""``permindex sync/resync/status`` on a small folder, through typer's CliRunner."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from indexer.backends import open_stores
from permindex.cli import EXIT_BAD_CONFIG, EXIT_LEASE_HELD, EXIT_RUN_FAILED
from permindex.config import load_config
from tests.cli.workspace import FOLDER_CONFIG, run_cli


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "hr").mkdir(parents=True)
    (docs / ".permindex-acl.yaml").write_text("allow: [org]\n")
    (docs / "hr" / ".permindex-acl.yaml").write_text("allow: [group:hr]\ninherit: false\n")
    (docs / ".permindex-groups.yaml").write_text("groups:\n  hr: [hana@example.com]\n")
    (docs / "welcome.md").write_text("# Welcome\n\nThe office opens at nine.\n")
    (docs / "travel.txt").write_text("Book trains, not planes, for trips under four hours.\n")
    (docs / "hr" / "salaries.md").write_text("# Salaries\n\nBands are reviewed in March.\n")
    (tmp_path / "permindex.yaml").write_text(FOLDER_CONFIG)
    return tmp_path


def invoke(workspace: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(workspace, *args)
    return result.exit_code, result.stdout, result.stderr


def index_documents(workspace: Path) -> set[str]:
    config = load_config(workspace / "permindex.yaml")
    stores = open_stores(config.index, 32)
    try:
        return {fp.external_id for fp in stores.index.iter_fingerprints("docs")}
    finally:
        stores.close()


def test_sync_then_status(workspace: Path) -> None:
    code, stdout, _ = invoke(workspace, "sync", "docs", "--quiet")
    assert code == 0, stdout
    assert "succeeded" in stdout
    assert index_documents(workspace) == {"welcome.md", "travel.txt", "hr/salaries.md"}

    (workspace / "docs" / "travel.txt").unlink()
    code, stdout, _ = invoke(workspace, "sync", "docs")  # with the progress bar
    assert code == 0, stdout
    assert index_documents(workspace) == {"welcome.md", "hr/salaries.md"}

    code, stdout, _ = invoke(workspace, "status", "--json")
    assert code == 0
    report = json.loads(stdout)
    (entry,) = report["sources"]
    assert entry["source_id"] == "docs"
    assert entry["last_run"]["status"] == "succeeded"
    assert entry["last_run"]["counts"]["deleted"] == 1
    assert entry["runs_considered"] == 2
    assert entry["documents"] == 2
    assert entry["lag_seconds"] is not None and entry["lag_seconds"] < 600

    code, stdout, _ = invoke(workspace, "status")
    assert code == 0
    assert "docs" in stdout and "succeeded" in stdout


def test_bad_document_is_reported_and_run_succeeds(workspace: Path) -> None:
    (workspace / "docs" / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    code, stdout, stderr = invoke(workspace, "sync", "docs", "--quiet")
    assert code == 0, stdout + stderr
    assert "broken.pdf" in stderr
    code, stdout, _ = invoke(workspace, "status", "--json")
    (entry,) = json.loads(stdout)["sources"]
    assert entry["document_errors"] == 1
    assert [e["count"] for e in entry["top_errors"]] == [1]


def test_resync_rebuilds_from_scratch(workspace: Path) -> None:
    assert invoke(workspace, "sync", "docs", "-q")[0] == 0
    (workspace / "docs" / "new.md").write_text("# New\n\nA page added later.\n")
    code, stdout, _ = invoke(workspace, "resync", "docs", "-q")
    assert code == 0, stdout
    assert "full run of docs: succeeded" in stdout
    assert "new.md" in index_documents(workspace)


def test_failed_run_exits_non_zero(workspace: Path) -> None:
    # A broken groups file fails the groups run (which clears the groups: unreadable means
    # nobody), while runs that apply deletions and narrowings still succeed.
    (workspace / "docs" / ".permindex-groups.yaml").write_text("groups: [not, a, mapping]\n")
    code, stdout, stderr = invoke(workspace, "sync", "docs", "--groups", "-q")
    assert code == EXIT_RUN_FAILED
    assert "failed" in stdout
    assert ".permindex-groups.yaml" in stderr
    code, _, _ = invoke(workspace, "sync", "docs", "-q")
    assert code == 0


def test_lease_held_by_another_run(workspace: Path) -> None:
    config = load_config(workspace / "permindex.yaml")
    stores = open_stores(config.index, 32)
    try:
        stores.state.acquire_lease("docs", "other-host:1", timedelta(minutes=5), datetime.now(UTC))
    finally:
        stores.close()
    code, _, stderr = invoke(workspace, "sync", "docs", "-q")
    assert code == EXIT_LEASE_HELD
    assert "another run of 'docs' is in progress" in stderr


def test_unknown_source_and_bad_flags(workspace: Path) -> None:
    code, _, stderr = invoke(workspace, "sync", "wiki")
    assert code == EXIT_BAD_CONFIG
    assert "unknown source 'wiki' (known: docs)" in stderr
    code, _, stderr = invoke(workspace, "sync", "docs", "--full", "--groups")
    assert code == EXIT_BAD_CONFIG
    assert "at most one" in stderr


def test_bad_config_names_file_and_field(workspace: Path) -> None:
    (workspace / "permindex.yaml").write_text("sources:\n  - {type: folder, id: docs}\n")
    code, _, stderr = invoke(workspace, "status")
    assert code == EXIT_BAD_CONFIG
    assert "permindex.yaml" in stderr
    assert "sources.0.path" in stderr
