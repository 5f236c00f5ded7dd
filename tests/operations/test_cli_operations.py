"""The operator actions through the CLI: pause, prune dry-run, delete with confirmation, reindex."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.backends.embedded import open_embedded
from indexer.records import SearchFilters
from indexer.run_types import RunType
from indexer.settings import EmbeddedSettings
from permindex.config import load_config
from permindex.runtime import open_runtime
from schedules.jobs import SyncScheduler
from tests.cli.workspace import FOLDER_CONFIG, run_cli

ORG = frozenset({"org:acme"})


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / ".permindex-acl.yaml").write_text("allow: [org]\n")
    for name in ("runbook", "roadmap", "invoice"):
        (docs / f"{name}.md").write_text(f"# {name.title()}\n\nThe {name} of the team.\n")
    (tmp_path / "permindex.yaml").write_text(FOLDER_CONFIG)
    code, out = invoke(tmp_path, "sync", "docs", "--quiet")
    assert code == 0, out
    return tmp_path


def invoke(workspace: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = run_cli(workspace, *args, stdin=stdin, columns=200)
    return result.exit_code, result.output


def visible(workspace: Path) -> set[str]:
    stores = open_embedded(EmbeddedSettings(path=workspace / "index.sqlite"), 32)
    try:
        hits = stores.index.keyword_search("team", ORG, SearchFilters(), 50)
        return {hit.external_id for hit in hits}
    finally:
        stores.close()


def test_pause_blocks_sync_and_the_scheduler_until_resumed(workspace: Path) -> None:
    code, out = invoke(workspace, "source", "pause", "docs", "--reason", "source migration")
    assert code == 0, out
    code, out = invoke(workspace, "sync", "docs", "--quiet")
    assert code == 1 and "paused: source migration" in out
    with open_runtime(load_config(workspace / "permindex.yaml")) as runtime:
        before = len(runtime.stores.state.recent_runs("docs"))
        scheduler = SyncScheduler(runtime)
        assert scheduler.run_once("docs", RunType.incremental) is None
        assert len(runtime.stores.state.recent_runs("docs")) == before
    code, out = invoke(workspace, "status", "--json")
    (entry,) = [e for e in json.loads(out)["sources"] if e["source_id"] == "docs"]
    assert "paused: source migration" in entry["paused"]
    code, out = invoke(workspace, "source", "show", "docs")
    assert "paused (source migration)" in out and " pause by " in out
    assert invoke(workspace, "source", "resume", "docs")[0] == 0
    assert invoke(workspace, "sync", "docs", "--quiet")[0] == 0


def test_prune_dry_run_then_delete_with_confirmation(workspace: Path) -> None:
    (workspace / "docs" / "invoice.md").unlink()
    code, out = invoke(workspace, "prune", "docs", "--dry-run")
    assert code == 0, out
    assert "docs:invoice.md" in out and "no longer names it" in out
    assert visible(workspace) == {"runbook.md", "roadmap.md", "invoice.md"}

    code, out = invoke(workspace, "source", "delete", "docs", stdin="n\n")
    assert code == 1 and "3 documents" in out
    assert len(visible(workspace)) == 3
    code, out = invoke(workspace, "source", "delete", "docs", "--yes")
    assert code == 0 and "3 documents" in out, out
    assert visible(workspace) == set()
    code, out = invoke(workspace, "sync", "docs", "--quiet")
    assert code == 1 and "deleted by" in out


def test_reindex_keeps_every_document_searchable(workspace: Path) -> None:
    code, out = invoke(workspace, "reindex", "--yes")
    assert code == 0 and "re-indexed 3 documents" in out, out
    assert visible(workspace) == {"runbook.md", "roadmap.md", "invoice.md"}
    (workspace / "docs" / "ledger.md").write_text("# Ledger\n\nThe ledger of the team.\n")
    assert invoke(workspace, "sync", "docs", "--quiet")[0] == 0
    assert "ledger.md" in visible(workspace)
