"""Deleting a source removes everything it owns, and nothing of any other source."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from indexer.backends import Stores
from indexer.operations.controls import control_of
from indexer.operations.delete_source import delete_source
from indexer.operations.pause import SourcePausedError, check_not_paused, resume
from indexer.state_store import LeaseHeldError, scope_key
from tests.conformance.builders import ALICE
from tests.operations.helpers import NOW, doc_ids, found, seed_state, write_docs

REPO = Path(__file__).resolve().parents[2]


def test_delete_source_removes_its_documents_groups_and_checkpoints(stores: Stores) -> None:
    wiki = set(write_docs(stores, "wiki", 40))
    kept = set(write_docs(stores, "drive", 5))
    assert found(stores, "wiki") == wiki
    seed_state(stores, "wiki")
    seed_state(stores, "drive")

    report = delete_source(stores, "wiki", by="ops@example.com", clock=lambda: NOW)

    assert report.documents_deleted == 40
    assert found(stores, "wiki") == set()
    assert doc_ids(stores, "wiki") == set()
    assert found(stores, "drive") == kept
    assert stores.directory.members_of("group:wiki:eng") == set()
    assert stores.directory.members_of("group:drive:eng") == {ALICE}
    assert stores.state.get_checkpoint("wiki") is None
    assert stores.state.get_checkpoint(scope_key("wiki", "space-a")) is None
    assert stores.state.get_checkpoint("drive") is not None
    last = stores.state.recent_runs("wiki", limit=1)[0]
    assert (last.run_type, last.status, last.counts.deleted) == ("delete", "succeeded", 40)
    assert "ops@example.com" in (last.message or "")
    # The source stays paused: a configured source is not indexed again behind the operator.
    with pytest.raises(SourcePausedError):
        check_not_paused(stores, "wiki")
    assert [a.action for a in control_of(stores, "wiki").history] == [
        "delete-started",
        "delete-finished",
    ]
    resume(stores, "wiki", by="ops@example.com", now=NOW)
    check_not_paused(stores, "wiki")


EMBEDDED_ONLY = pytest.mark.parametrize("backend_kind", ["embedded"])


@EMBEDDED_ONLY
def test_delete_waits_for_a_running_sync_and_blocks_new_ones(stores: Stores) -> None:
    write_docs(stores, "wiki", 3)
    lease = stores.state.acquire_lease("wiki", "a sync run", timedelta(minutes=5), NOW)
    with pytest.raises(LeaseHeldError):
        delete_source(stores, "wiki", by="ops", clock=lambda: NOW)
    # Marked: nothing new starts, and the documents are still under their own ACLs.
    with pytest.raises(SourcePausedError, match="being deleted"):
        check_not_paused(stores, "wiki")
    with pytest.raises(SourcePausedError):
        resume(stores, "wiki", by="ops", now=NOW)
    stores.state.release_lease(lease)
    report = delete_source(stores, "wiki", by="ops", clock=lambda: NOW)
    assert report.resumed and report.documents_deleted == 3
    assert found(stores, "wiki") == set()


KILLED_DELETE = """
import os, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from indexer.backends.embedded import open_embedded
from indexer.operations import delete_source as module
from indexer.settings import EmbeddedSettings

module.PAGE = 50
stores = open_embedded(EmbeddedSettings(path=Path(sys.argv[1])), 8)

def crash(deleted: int) -> None:
    if deleted >= 100:
        os.kill(os.getpid(), signal.SIGKILL)

module.delete_source(stores, "wiki", by="ops", clock=lambda: datetime.now(UTC), after_page=crash)
"""


@EMBEDDED_ONLY
def test_a_delete_killed_halfway_finishes_when_run_again(stores: Stores, tmp_path: Path) -> None:
    write_docs(stores, "wiki", 230)
    seed_state(stores, "wiki")
    path = stores.index.db.path  # type: ignore[attr-defined]
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_DELETE, str(path)], cwd=REPO, capture_output=True, timeout=120
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    # Killed after two pages: part deleted, the rest still under its own ACL, the mark kept.
    left = doc_ids(stores, "wiki")
    assert 0 < len(left) <= 130
    with pytest.raises(SourcePausedError, match="being deleted"):
        check_not_paused(stores, "wiki")
    assert stores.directory.members_of("group:wiki:eng") == {ALICE}

    # The dead process's leases expire; the second run takes them over and finishes.
    later = datetime.now(UTC) + timedelta(minutes=10)
    report = delete_source(stores, "wiki", by="ops", clock=lambda: later)
    assert report.resumed and report.documents_deleted == len(left)
    assert doc_ids(stores, "wiki") == set() and found(stores, "wiki") == set()
    assert stores.directory.members_of("group:wiki:eng") == set()
    assert stores.state.get_checkpoint("wiki") is None
    assert not control_of(stores, "wiki").deleting
