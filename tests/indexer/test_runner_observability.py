"""What an operator sees of a run: progress, the run record while running, logs and metrics."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

from prometheus_client import REGISTRY

from connectors.contract import EMPTY_INDEX, SyncContext
from connectors.events import ChangeEvent, Checkpoint
from connectors.folder import FolderConnector
from connectors.principals import user
from indexer.backends import Stores
from indexer.logging import configure_json_logging
from indexer.records import SearchFilters
from indexer.runner import RunType
from indexer.settings import ChunkingSettings
from indexer.state_store import RunRecord
from tests.indexer.conftest import ORG, SOURCE, MakeRunner, Tree, utcnow

ALICE = frozenset({user("alice@example.com")})
BOB = frozenset({user("bob@example.com")})


class Sink:
    """A ProgressSink that remembers what it was told."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, int | None]] = []
        self.documents = 0
        self.chunks = 0
        self.ends: list[RunRecord] = []

    def started(self, run_type: str, total: int | None) -> None:
        self.starts.append((run_type, total))

    def advanced(self, documents: int, chunks: int) -> None:
        self.documents += documents
        self.chunks += chunks

    def finished(self, record: RunRecord) -> None:
        self.ends.append(record)


def test_progress_counts_every_document_and_embedded_chunk(
    tree: Tree, make_runner: MakeRunner
) -> None:
    tree.acl("", ["alice@example.com"])
    for i in range(4):
        tree.write(f"n{i}.txt", f"Note {i}.")
    sink = Sink()
    record = make_runner(progress=sink).run(RunType.incremental)

    assert sink.starts == [("incremental", None)]
    assert sink.documents == 4
    assert sink.chunks == record.counts.chunks_embedded == 4
    assert [r.run_id for r in sink.ends] == [record.run_id]


def test_the_run_record_says_running_while_the_run_is_under_way(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    seen: list[str] = []

    class Watching(FolderConnector):
        def changes(
            self, checkpoint: Checkpoint | None, context: SyncContext = EMPTY_INDEX
        ) -> Iterator[ChangeEvent]:
            seen.append(stores.state.recent_runs(SOURCE, limit=1)[0].status)
            yield from super().changes(checkpoint, context)

    connector = Watching(source_id=SOURCE, root=tree.root, org=ORG, clock=utcnow)
    record = make_runner(connector).run(RunType.incremental)

    assert seen == ["running"]
    assert stores.state.recent_runs(SOURCE, limit=1)[0].status == record.status == "succeeded"


def test_an_oversized_update_still_narrows_the_acl_of_the_old_version(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    tree.acl("", ["alice@example.com", "bob@example.com"])
    tree.write("memo.txt", "Reorganisation memo.")
    runner = make_runner(chunking=ChunkingSettings(chunk_size=64, max_document_chars=500))
    runner.run(RunType.incremental)

    tree.acl("", ["alice@example.com"])
    tree.write("memo.txt", "Reorganisation memo, now far too long. " * 50)
    record = runner.run(RunType.incremental)

    assert record.counts.failed == 1
    assert record.counts.chunks_embedded == 0
    stores.index.refresh()
    assert stores.index.keyword_search("reorganisation", BOB, SearchFilters(), k=5) == []
    assert [
        h.external_id for h in stores.index.keyword_search("memo", ALICE, SearchFilters(), k=5)
    ] == ["memo.txt"]


def test_runs_log_json_and_count_metrics(tree: Tree, make_runner: MakeRunner) -> None:
    tree.acl("", ["alice@example.com"])
    tree.write("a.txt", "Alpha.")
    tree.write("b.txt", "Beta.")

    def created() -> float:
        value = REGISTRY.get_sample_value(
            "permindex_sync_documents_total", {"source": SOURCE, "outcome": "created"}
        )
        return value or 0.0

    before = created()
    stream = io.StringIO()
    logger = logging.getLogger("permindex")
    saved = (logger.level, list(logger.handlers), logger.propagate)
    configure_json_logging(stream=stream)
    try:
        record = make_runner().run(RunType.incremental)
    finally:
        logger.setLevel(saved[0])
        logger.handlers[:] = saved[1]
        logger.propagate = saved[2]

    assert created() - before == 2
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    finished = next(line for line in lines if line["message"] == "sync run finished")
    assert finished["run_id"] == record.run_id
    assert finished["counts"]["created"] == 2 and finished["status"] == "succeeded"
