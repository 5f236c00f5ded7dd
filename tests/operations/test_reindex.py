"""Re-indexing while sync runs write: what a run writes during the copy reaches both indices, so
nothing is lost and no revocation comes back after the swap."""

from __future__ import annotations

import dataclasses
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.contract import EMPTY_INDEX, SyncContext
from connectors.events import ChangeEvent, Checkpoint
from indexer.backends import Stores
from indexer.backends.embedded.index import EmbeddedIndex
from indexer.dual_write import embed_text
from indexer.embedding import Embedder
from indexer.operations import reindex as reindex_module
from indexer.operations.reads import reader_for
from indexer.operations.reindex import (
    ReindexError,
    ReindexReport,
    abort_reindex,
    reindex_status,
)
from indexer.retry import RetryPolicy
from indexer.runner import SyncRunner
from indexer.settings import ChunkingSettings
from indexer.state_store import RunRecord
from tests.conformance.builders import ALICE, BOB
from tests.connectors.scripted import Doc, ScriptedConnector
from tests.operations.helpers import HashEmbedder, doc_ids, found, write_docs

WORDS = ("invoice", "roadmap", "runbook", "salary", "ledger", "budget")
REPO = Path(__file__).resolve().parents[2]
ALICE_ONLY = frozenset({ALICE})


def _now() -> datetime:
    return datetime.now(UTC)


def _docs(count: int) -> dict[str, Doc]:
    return {
        f"d{i}": Doc(
            scope="a" if i % 2 else "b",
            body=f"{WORDS[i % len(WORDS)]} wiki number{i}",
            acl=frozenset({ALICE}),
        )
        for i in range(count)
    }


def _source(count: int) -> ScriptedConnector:
    return ScriptedConnector(source_id="wiki", docs=_docs(count), scopes=["a", "b"])


def _sync(
    stores: Stores,
    connector: ScriptedConnector,
    kind: str = "incremental",
    embedder: Embedder | None = None,
) -> RunRecord:
    return SyncRunner(
        connector,
        stores,
        embedder or HashEmbedder(8),
        chunking=ChunkingSettings(),
        model_name="hash",
        clock=_now,
        retry=RetryPolicy(attempts=1),
    ).run(kind)


def _reindex(
    stores: Stores,
    on_page: Callable[[int], None] | None,
    *,
    embedder: Embedder | None = None,
    resume: bool = False,
    wait: timedelta = timedelta(seconds=20),
) -> ReindexReport:
    if stores.index.name == "embedded":
        from indexer.operations.reindex_embedded import reindex_embedded

        return reindex_embedded(
            stores, on_page=on_page, embedder=embedder, resume=resume, wait=wait
        )
    from indexer.operations.reindex_opensearch import reindex_opensearch

    return reindex_opensearch(
        stores, clock=_now, on_page=on_page, embedder=embedder, resume=resume, wait=wait
    )


def _change(source: ScriptedConnector) -> None:
    """What a source does while the copy runs, on documents the copy has passed (d1x, with
    PAGE 10 and ids in order) and on some it has not reached (d3x)."""
    for i in range(100, 106):
        source.docs[f"d{i}"] = Doc(scope="a", body=f"fresh wiki number{i}", acl=frozenset({ALICE}))
    for i in (13, 33):
        source.docs[f"d{i}"] = Doc(
            scope="a", body=f"edited wiki number{i}", acl=frozenset({ALICE}), version="2"
        )
    for i in (11, 35):  # revoked from Alice, granted to Bob
        source.docs[f"d{i}"] = dataclasses.replace(source.docs[f"d{i}"], acl=frozenset({BOB}))
    for i in (14, 38):
        del source.docs[f"d{i}"]


def _assert_changed(stores: Stores, before: set[str]) -> None:
    fresh = {f"wiki:d{i}" for i in range(100, 106)}
    gone = {"wiki:d14", "wiki:d38"}
    revoked = {"wiki:d11", "wiki:d35"}
    assert doc_ids(stores, "wiki") == (before | fresh) - gone
    assert found(stores, "wiki") == (before | fresh) - gone - revoked
    assert found(stores, "wiki", principal=BOB) == revoked
    assert found(stores, "edited") == {"wiki:d13", "wiki:d33"}
    assert found(stores, "fresh") == fresh


def _run_in_thread(fn: Callable[[], object]) -> None:
    errors: list[BaseException] = []

    def body() -> None:
        try:
            fn()
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(120)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


@pytest.fixture(autouse=True)
def _small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reindex_module, "PAGE", 10)
    monkeypatch.setattr(reindex_module, "POLL_S", 0.05)


def test_a_sync_run_during_the_copy_writes_to_both_indices(stores: Stores) -> None:
    source = _source(40)
    assert _sync(stores, source).status == "succeeded"
    before = doc_ids(stores, "wiki")
    runs: list[RunRecord] = []
    pages = 0

    def sync_meanwhile(copied: int) -> None:
        nonlocal pages
        pages += 1
        if pages != 2:
            return
        _change(source)

        def runs_of_the_source() -> None:
            runs.append(_sync(stores, source))
            runs.append(_sync(stores, source, "prune"))

        _run_in_thread(runs_of_the_source)
        stores.index.refresh()
        # Searches answer from the serving index, which took the run's writes first.
        assert not {"wiki:d11", "wiki:d35"} & found(stores, "wiki")
        assert reindex_status(stores) is not None

    report = _reindex(stores, sync_meanwhile)

    assert [run.status for run in runs] == ["succeeded", "succeeded"], runs
    # The dual writes carried every change: the last pass had nothing to repair.
    assert report.repaired == 0 and report.verified == len(before) + 6 - 2
    assert reindex_status(stores) is None
    stores.index.refresh()
    _assert_changed(stores, before)
    # Sync state survives the swap, and runs go on writing to the new index only.
    assert stores.state.get_checkpoint("wiki") is not None
    source.docs["d200"] = Doc(scope="b", body="later wiki", acl=frozenset({ALICE}))
    assert _sync(stores, source).status == "succeeded"
    stores.index.refresh()
    assert found(stores, "later") == {"wiki:d200"}


@dataclass
class _HeldSource(ScriptedConnector):
    """Stops after a few events until ``gate`` is set: a run already going."""

    gate: threading.Event = field(default_factory=threading.Event)
    inside: threading.Event = field(default_factory=threading.Event)

    def changes(
        self, checkpoint: Checkpoint | None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[ChangeEvent]:
        for i, event in enumerate(super().changes(checkpoint, context)):
            if i == 3:
                self.inside.set()
                assert self.gate.wait(60)
            yield event


@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_a_run_going_when_the_reindex_starts_ends_before_the_copy_reads(
    stores: Stores, tmp_path: Path
) -> None:
    source = _source(40)
    _sync(stores, source)
    held = _HeldSource(source_id="wiki", docs=dict(source.docs), scopes=["a", "b"])
    _change(held)
    runs: list[RunRecord] = []
    run = threading.Thread(target=lambda: runs.append(_sync(stores, held)))
    run.start()
    assert held.inside.wait(30)

    # A re-index that cannot wait for the run gives up and leaves nothing behind.
    with pytest.raises(ReindexError, match="still holds its lease"):
        _reindex(stores, None, wait=timedelta(seconds=0.3))
    assert reindex_status(stores) is None
    assert [p.name for p in tmp_path.iterdir() if "reindex" in p.name] == []

    # One that waits starts copying only once the run has written everything and ended.
    at_first_page: list[set[str]] = []
    reports: list[ReindexReport] = []

    def first_page(copied: int) -> None:
        if not at_first_page:
            at_first_page.append(found(stores, "fresh"))

    copy = threading.Thread(target=lambda: reports.append(_reindex(stores, first_page)))
    copy.start()
    deadline = time.monotonic() + 10
    while reindex_status(stores) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    assert reindex_status(stores) is not None and at_first_page == []
    held.gate.set()
    run.join(60)
    copy.join(60)
    assert runs[0].status == "succeeded", runs
    assert at_first_page == [{f"wiki:d{i}" for i in range(100, 106)}]
    assert reports[0].repaired == 0 and reports[0].waited_s >= 0.3
    assert found(stores, "fresh") == {f"wiki:d{i}" for i in range(100, 106)}
    assert found(stores, "edited") == {"wiki:d13", "wiki:d33"}
    assert found(stores, "wiki", principal=BOB) == {"wiki:d11", "wiki:d35"}


@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_a_failing_target_write_stops_the_run_without_advancing_its_checkpoint(
    stores: Stores,
) -> None:
    source = _source(30)
    _sync(stores, source)
    checkpoint = stores.state.get_checkpoint("wiki")
    runs: list[RunRecord] = []

    def break_the_target(copied: int) -> None:
        if runs:
            return
        marker = reindex_status(stores)
        assert marker is not None
        source.docs["d100"] = Doc(scope="a", body="fresh wiki number100", acl=frozenset({ALICE}))
        # The new file refuses that document, as a full disk would: an unknown function fails
        # the write as an OperationalError, the embedded index's "unavailable".
        conn = sqlite3.connect(marker.target)
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON documents WHEN NEW.doc_id = 'wiki:d100'"
            " BEGIN SELECT target_disk_is_full(); END"
        )
        conn.commit()
        try:
            _run_in_thread(lambda: runs.append(_sync(stores, source)))
        finally:
            conn.execute("DROP TRIGGER refuse")
            conn.commit()
            conn.close()

    _reindex(stores, break_the_target)

    assert runs[0].status == "failed"
    assert "re-index target" in (runs[0].message or ""), runs[0].message
    assert stores.state.get_checkpoint("wiki") == checkpoint
    # The serving index took it before the target refused; the copy or the last pass carried
    # it over, and the next run goes on from the same checkpoint.
    assert found(stores, "fresh") == {"wiki:d100"}
    assert _sync(stores, source).status == "succeeded"


_KILLED_COPY = """
import os, signal, sys
from pathlib import Path
from indexer.backends.embedded import open_embedded
from indexer.operations import reindex
from indexer.operations.reindex_embedded import reindex_embedded
from indexer.settings import EmbeddedSettings

reindex.PAGE = 10
stores = open_embedded(EmbeddedSettings(path=Path(sys.argv[1])), 8)


def kill(copied: int) -> None:
    if copied >= 20:
        os.kill(os.getpid(), signal.SIGKILL)


reindex_embedded(stores, on_page=kill)
"""


@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_a_reindex_killed_mid_copy_serves_on_and_resumes(stores: Stores) -> None:
    source = _source(40)
    _sync(stores, source)
    before = doc_ids(stores, "wiki")
    assert isinstance(stores.index, EmbeddedIndex)
    path = stores.index.db.path
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_COPY, str(path)], cwd=REPO, timeout=120, check=False
    )
    assert killed.returncode == -signal.SIGKILL

    marker = reindex_status(stores)
    assert marker is not None and marker.phase == "copying"
    assert found(stores, "wiki") == before  # the old file serves on
    # Writers keep working, and write to both files while the re-index waits.
    _change(source)
    assert _sync(stores, source).status == "succeeded"
    assert _sync(stores, source, "prune").status == "succeeded"

    report = _reindex(stores, None, resume=True)

    assert report.skipped >= 20 and report.repaired == 0
    assert reindex_status(stores) is None and not Path(marker.target).exists()
    _assert_changed(stores, before)


class _Interrupted(BaseException):
    pass


def test_an_aborted_reindex_leaves_the_serving_index_as_it_was(stores: Stores) -> None:
    source = _source(40)
    _sync(stores, source)
    before = doc_ids(stores, "wiki")

    def interrupt(copied: int) -> None:
        raise _Interrupted

    with pytest.raises(_Interrupted):
        _reindex(stores, interrupt)
    marker = reindex_status(stores)
    assert marker is not None
    with pytest.raises(ReindexError, match="in progress"):
        _reindex(stores, None)
    _change(source)
    assert _sync(stores, source).status == "succeeded"

    assert abort_reindex(stores, wait=timedelta(seconds=20)) == marker

    assert reindex_status(stores) is None
    if stores.index.name == "embedded":
        assert not Path(marker.target).exists()
    else:
        from indexer.backends.opensearch.aliases import alias_target
        from indexer.backends.opensearch.index import OpenSearchIndex

        assert isinstance(stores.index, OpenSearchIndex)
        gw = stores.index.gw
        assert alias_target(gw, f"{marker.target}-chunks") is None
        assert not gw.client.indices.exists(index=",".join(marker.target_indices))
    # The serving index is the one the runs wrote to, and runs go on without the target.
    stores.index.refresh()
    assert doc_ids(stores, "wiki") == (before | {f"wiki:d{i}" for i in range(100, 106)})
    assert "wiki:d11" not in found(stores, "wiki")
    assert _sync(stores, source, "prune").status == "succeeded"
    assert "wiki:d14" not in doc_ids(stores, "wiki")


@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_a_writer_that_bypasses_dual_writes_is_repaired_by_the_last_pass(
    stores: Stores,
) -> None:
    before = set(write_docs(stores, "wiki", 30))
    pages = 0

    def behind_its_back(copied: int) -> None:
        nonlocal pages
        pages += 1
        if pages == 2:  # straight into the serving index, as no writer of the project does
            write_docs(stores, "wiki", 1, start=1, tag="edited")
            stores.index.delete_documents(["wiki:d2"])

    report = _reindex(stores, behind_its_back)

    # The deletion is seen by the copy's own sweep; the edit of a copied page only by the last pass.
    assert report.repaired == 1 and report.removed == 1
    assert found(stores, "edited") == {"wiki:d1"}
    assert doc_ids(stores, "wiki") == before - {"wiki:d2"}


@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_a_new_model_embeds_what_runs_write_during_the_copy(stores: Stores) -> None:
    source = _source(12)
    _sync(stores, source)
    model = HashEmbedder(dimension=16)
    pages = 0

    def sync_meanwhile(copied: int) -> None:
        nonlocal pages
        pages += 1
        if pages == 1:
            source.docs["d100"] = Doc(scope="a", body="fresh wiki", acl=frozenset({ALICE}))
            _run_in_thread(lambda: _sync(stores, source))

    report = _reindex(stores, sync_meanwhile, embedder=model)
    assert report.documents == 13 and report.repaired == 0
    stores.close()
    from indexer.backends.embedded import open_embedded
    from indexer.settings import EmbeddedSettings

    reopened = open_embedded(EmbeddedSettings(path=Path(report.new)), 16)
    try:
        # Both the copied documents and the one the run wrote carry the new model's vectors.
        for write in reader_for(reopened.index).export(["wiki:d3", "wiki:d100"]):
            texts = [embed_text(write, chunk.text) for chunk in write.chunks]
            stored = [x for chunk in write.chunks for x in chunk.vector]
            expected = [x for vector in model.embed_documents(texts) for x in vector]
            assert stored == pytest.approx(expected, abs=1e-6)
    finally:
        reopened.close()


def test_the_cli_resumes_or_aborts_the_reindex_in_progress(tmp_path: Path) -> None:
    from indexer.backends.embedded import open_embedded
    from indexer.operations.reindex_embedded import reindex_embedded
    from indexer.settings import EmbeddedSettings
    from tests.cli.workspace import FOLDER_CONFIG, run_cli

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / ".permindex-acl.yaml").write_text("allow: [org]\n")
    for name in ("runbook", "roadmap", "invoice"):
        (docs / f"{name}.md").write_text(f"# {name.title()}\n\nThe {name} of the team.\n")
    (tmp_path / "permindex.yaml").write_text(FOLDER_CONFIG)
    assert run_cli(tmp_path, "sync", "docs", "--quiet").exit_code == 0

    def interrupted() -> None:
        stores = open_embedded(EmbeddedSettings(path=tmp_path / "index.sqlite"), 32)

        def interrupt(copied: int) -> None:
            raise _Interrupted

        try:
            with pytest.raises(_Interrupted):
                reindex_embedded(stores, on_page=interrupt)
        finally:
            stores.close()

    interrupted()
    refused = run_cli(tmp_path, "reindex", "--yes", columns=300)
    assert refused.exit_code == 1 and "--resume" in refused.output, refused.output
    resumed = run_cli(tmp_path, "reindex", "--resume", "--yes", columns=300)
    assert resumed.exit_code == 0 and "re-indexed 3 documents" in resumed.output, resumed.output

    interrupted()
    aborted = run_cli(tmp_path, "reindex", "--abort", columns=300)
    assert aborted.exit_code == 0 and "aborted the re-index" in aborted.output, aborted.output
    assert not (tmp_path / "index.sqlite.reindex").exists()
    again = run_cli(tmp_path, "reindex", "--abort", columns=300)
    assert "no re-index is in progress" in again.output


@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_runs_racing_the_copy_page_by_page_leave_nothing_for_the_last_pass(
    stores: Stores,
) -> None:
    """Runs that edit, re-permission, add and delete documents without pause while the copy
    goes on (no page boundary to wait for): the copy's re-check and the dual writes keep the
    target equal to the serving index, so the last pass, which compares every document with
    every writer held off, finds nothing to repair."""
    import random

    from indexer.state_store import LeaseHeldError

    source = _source(120)
    _sync(stores, source)
    rng = random.Random(16)
    stop = threading.Event()
    runs: list[str] = []

    def mutate() -> None:
        for _ in range(4):
            number = rng.randrange(160)
            key = f"d{number}"
            doc = source.docs.get(key)
            roll = rng.random()
            if doc is None:
                source.docs[key] = Doc(scope="a", body=f"wiki added{number}", acl=ALICE_ONLY)
            elif roll < 0.4:
                version = str(int(doc.version) + 1)
                body = f"wiki r{version}"
                source.docs[key] = dataclasses.replace(doc, body=body, version=version)
            elif roll < 0.8:
                flipped = frozenset({BOB}) if ALICE in doc.acl else ALICE_ONLY
                source.docs[key] = dataclasses.replace(doc, acl=flipped)
            else:
                del source.docs[key]

    def writer() -> None:
        while not stop.is_set():
            mutate()
            for kind in ("incremental", "prune"):
                while True:
                    try:
                        runs.append(_sync(stores, source, kind).status)
                        break
                    except LeaseHeldError:  # the last pass holds every lease for a moment
                        time.sleep(0.02)
            stop.wait(0.05)  # as a scheduler would, not back to back: the swap gets its turn

    def slow_copy(copied: int) -> None:
        time.sleep(0.03)  # so that several runs overlap the copy

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        report = _reindex(stores, slow_copy)
    finally:
        stop.set()
        thread.join(60)

    assert len(runs) >= 6 and set(runs) == {"succeeded"}, runs
    assert report.repaired == 0, report
    expected = {f"wiki:{key}": doc for key, doc in source.docs.items()}
    assert doc_ids(stores, "wiki") == set(expected)
    for write in reader_for(stores.index).export(sorted(expected)):
        doc = expected[write.doc_id]
        assert write.acl == doc.acl, write.doc_id
        assert doc.body in write.chunks[0].text, write.doc_id


class _ModelThatLetsARunIn(HashEmbedder):
    """The new model, slow enough that a sync run revokes and edits a document between the
    copy's read of its page and the copy's write of it: the race the copy's re-check is for."""

    def __init__(self, dimension: int, run: Callable[[], None]) -> None:
        super().__init__(dimension)
        self.run: Callable[[], None] | None = run

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        run, self.run = self.run, None
        if run is not None and any("number5" in text for text in texts):
            _run_in_thread(run)  # its own dual writes embed with this model too: once only
        elif run is not None:
            self.run = run
        return super().embed_documents(texts)


@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_a_write_between_the_copys_read_and_write_is_copied_again(stores: Stores) -> None:
    source = _source(12)
    _sync(stores, source)

    def revoke_and_edit() -> None:
        source.docs["d5"] = Doc(
            scope="a", body="edited wiki number5", acl=frozenset({BOB}), version="2"
        )
        assert _sync(stores, source).status == "succeeded"

    report = _reindex(stores, None, embedder=_ModelThatLetsARunIn(16, revoke_and_edit))

    # The copy wrote the version it had read, saw the serving index had moved on, and copied
    # again; the last pass had nothing left to repair.
    assert report.recopied >= 1 and report.repaired == 0, report
    stores.close()
    from indexer.backends.embedded import open_embedded
    from indexer.settings import EmbeddedSettings

    reopened = open_embedded(EmbeddedSettings(path=Path(report.new)), 16)
    try:
        assert found(reopened, "edited", principal=BOB) == {"wiki:d5"}
        assert "wiki:d5" not in found(reopened, "wiki")
    finally:
        reopened.close()


@pytest.mark.parametrize("backend_kind", ["opensearch"])
def test_an_interrupted_reindex_resumes_on_opensearch(stores: Stores) -> None:
    source = _source(40)
    _sync(stores, source)
    before = doc_ids(stores, "wiki")

    def interrupt(copied: int) -> None:
        if copied >= 20:
            raise _Interrupted

    with pytest.raises(_Interrupted):
        _reindex(stores, interrupt)
    _change(source)
    assert _sync(stores, source).status == "succeeded"
    assert _sync(stores, source, "prune").status == "succeeded"

    report = _reindex(stores, None, resume=True)

    assert report.skipped >= 15 and report.repaired == 0, report
    assert reindex_status(stores) is None
    stores.index.refresh()
    _assert_changed(stores, before)


@pytest.mark.parametrize("backend_kind", ["opensearch"])
def test_a_reindex_killed_after_its_alias_swap_is_finished_not_undone(stores: Stores) -> None:
    from indexer.backends.opensearch.index import OpenSearchIndex

    source = _source(12)
    _sync(stores, source)
    before = doc_ids(stores, "wiki")

    def interrupt(copied: int) -> None:
        raise _Interrupted

    with pytest.raises(_Interrupted):
        _reindex(stores, interrupt)
    marker = reindex_status(stores)
    assert marker is not None and isinstance(stores.index, OpenSearchIndex)
    index = stores.index
    # Where a process killed right after its alias swap stops: a whole resume, with the end
    # (marker cleared, the target's own aliases removed) put back as it was before that end.
    assert _reindex(stores, None, resume=True).repaired == 0
    index.gw.client.indices.update_aliases(
        body={
            "actions": [
                {"add": {"index": name, "alias": alias}}
                for name, alias in zip(
                    marker.target_indices,
                    (f"{marker.target}-chunks", f"{marker.target}-documents"),
                    strict=True,
                )
            ]
        }
    )
    from indexer.operations.reindex_marker import marker_store_for

    marker_store_for(stores.state).put(marker.model_copy(update={"phase": "swapping"}))

    assert abort_reindex(stores) is not None

    # The new indices serve on: an abort after the swap finishes it instead of deleting them.
    assert list(index.concrete_indices()) == marker.target_indices
    assert not index.gw.client.indices.exists_alias(name=f"{marker.target}-chunks")
    assert reindex_status(stores) is None
    assert doc_ids(stores, "wiki") == before
