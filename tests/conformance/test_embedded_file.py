"""What only the embedded file must show: sharing it across processes and threads, reopening it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from indexer.backend import IndexUnavailableError
from indexer.backends.embedded import SchemaError, open_embedded
from indexer.records import SearchFilters
from indexer.settings import EmbeddedSettings
from indexer.state_store import LeaseHeldError
from tests.conformance.builders import ALICE, axis, document

DIM = 8
NOW = datetime(2025, 1, 1, tzinfo=UTC)
ALICE_ONLY = frozenset({ALICE})


def _in_another_process(path: Path, body: str) -> str:
    script = textwrap.dedent(
        """
        import sys
        from datetime import UTC, datetime, timedelta
        from pathlib import Path
        from connectors.events import Checkpoint
        from indexer.backends.embedded import open_embedded
        from indexer.settings import EmbeddedSettings
        from indexer.state_store import Lease, LeaseHeldError, LeaseLostError
        from tests.conformance.builders import ALICE, axis, document
        stores = open_embedded(EmbeddedSettings(path=Path(sys.argv[1])), 8)
        NOW = datetime(2025, 1, 1, tzinfo=UTC)
        """
    ) + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return done.stdout.strip()


def test_a_lease_held_by_another_process_is_respected_and_fenced(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    stores = open_embedded(EmbeddedSettings(path=path), DIM)
    lease_json = _in_another_process(
        path,
        """
        lease = stores.state.acquire_lease("wiki", "other-process", timedelta(minutes=5), NOW)
        print(lease.model_dump_json())
        """,
    )
    with pytest.raises(LeaseHeldError, match="other-process"):
        stores.state.acquire_lease("wiki", "me", timedelta(minutes=5), NOW + timedelta(minutes=1))

    mine = stores.state.acquire_lease("wiki", "me", timedelta(minutes=5), NOW + timedelta(hours=1))
    outcome = _in_another_process(
        path,
        f"""
        lease = Lease.model_validate_json({lease_json!r})
        try:
            stores.state.save_checkpoint(lease, Checkpoint(value={{"stale": True}}))
            print("saved")
        except LeaseLostError:
            print("fenced")
        """,
    )
    assert outcome == "fenced"
    assert stores.state.get_checkpoint("wiki") is None
    stores.state.renew_lease(mine, timedelta(minutes=5), NOW + timedelta(hours=1))
    stores.close()


def test_concurrent_processes_never_both_acquire(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    open_embedded(EmbeddedSettings(path=path), DIM).close()
    script = textwrap.dedent(
        """
        import sys
        from datetime import UTC, datetime, timedelta
        from pathlib import Path
        from indexer.backends.embedded import open_embedded
        from indexer.settings import EmbeddedSettings
        from indexer.state_store import LeaseHeldError
        stores = open_embedded(EmbeddedSettings(path=Path(sys.argv[1])), 8)
        won = 0
        for attempt in range(30):
            now = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=10 * attempt)
            try:
                stores.state.acquire_lease(f"s{attempt}", sys.argv[2], timedelta(minutes=5), now)
                won += 1
            except LeaseHeldError:
                pass
        print(won)
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), f"worker-{n}"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        for n in range(3)
    ]
    wins = [int(proc.communicate(timeout=120)[0]) for proc in procs]
    # 30 sources, each acquired exactly once among the three racing workers.
    assert sum(wins) == 30
    stores = open_embedded(EmbeddedSettings(path=path), DIM)
    with pytest.raises(LeaseHeldError):
        stores.state.acquire_lease("s0", "late", timedelta(minutes=5), NOW + timedelta(minutes=1))
    stores.close()


def test_writes_survive_reopening_and_other_processes_see_them(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    stores = open_embedded(EmbeddedSettings(path=path), DIM)
    stores.index.write_documents([document("wiki", "1", [("first", axis(0, DIM))], {ALICE})])
    # Load the vector matrix, then let another process write: the next search must see it.
    assert len(stores.index.vector_search(axis(1, DIM), ALICE_ONLY, SearchFilters(), 10)) == 1
    _in_another_process(
        path,
        """
        stores.index.write_documents([document("wiki", "2", [("second", axis(1, 8))], {ALICE})])
        """,
    )
    hits = stores.index.vector_search(axis(1, DIM), ALICE_ONLY, SearchFilters(), 10)
    assert [h.doc_id for h in hits] == ["wiki:2", "wiki:1"]
    stores.close()

    reopened = open_embedded(EmbeddedSettings(path=path), DIM)
    assert reopened.index.stats().documents == 2
    hits = reopened.index.keyword_search("second", ALICE_ONLY, SearchFilters(), 5)
    assert [h.doc_id for h in hits] == ["wiki:2"]
    reopened.close()


def test_opening_with_another_dimension_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    open_embedded(EmbeddedSettings(path=path), DIM).close()
    with pytest.raises(SchemaError, match="8-dimensional"):
        open_embedded(EmbeddedSettings(path=path), 384)


def test_searches_from_many_threads_while_writing(tmp_path: Path) -> None:
    stores = open_embedded(EmbeddedSettings(path=tmp_path / "index.sqlite"), DIM)
    index = stores.index
    index.write_documents(
        [document("wiki", f"{i}", [(f"shared text {i}", axis(i, DIM))], {ALICE}) for i in range(50)]
    )
    errors: list[BaseException] = []
    stop = threading.Event()

    def search() -> None:
        try:
            while not stop.is_set():
                assert index.keyword_search("shared", ALICE_ONLY, SearchFilters(), 5)
                assert index.vector_search(axis(3, DIM), ALICE_ONLY, SearchFilters(), 5)
                outsider = frozenset({"org:x"})
                assert index.keyword_search("shared", outsider, SearchFilters(), 5) == []
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(4)]
    for thread in threads:
        thread.start()
    for round_ in range(20):
        index.write_documents(
            [document("wiki", f"new{round_}", [("shared again", axis(round_, DIM))], {ALICE})]
        )
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert index.stats().documents == 70
    stores.close()


def test_close_waits_for_a_search_still_running_in_another_thread(tmp_path: Path) -> None:
    # The HTTP service abandons a search past its time budget but the worker thread keeps
    # running; closing the stores under it used to close its SQLite connection mid-statement
    # and crash the whole process.
    stores = open_embedded(EmbeddedSettings(path=tmp_path / "index.sqlite"), DIM)
    db = stores.index.db  # type: ignore[attr-defined]
    inside = threading.Event()
    outcome: list[object] = []

    def slow_reader() -> None:
        try:
            with db.read() as conn:
                inside.set()
                time.sleep(0.5)
                outcome.append(conn.execute("SELECT count(*) FROM documents").fetchone()[0])
        except Exception as exc:
            outcome.append(exc)

    reader = threading.Thread(target=slow_reader)
    reader.start()
    assert inside.wait(5)
    stores.close()
    reader.join(5)
    assert outcome == [0]
    with pytest.raises(IndexUnavailableError, match="closed"):
        stores.index.keyword_search("anything", ALICE_ONLY, SearchFilters(), k=5)
