"""Crash test: ``permindex sync`` SIGKILLed at random instants always converges to the source.

A subprocess syncs a folder source that changes between rounds (creates, edits, deletes, moves,
ACL changes, group changes) and is killed at a random moment of its run (seeded RNG). Each kill
is followed by a clean run, after which the index must equal the source document by document:
every live file present with the right fingerprints, ACL and chunk count, nothing extra, no
orphan chunks. The run ends with a clean full run and the same comparison.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from connectors.events import DocumentFailed, DocumentUpserted
from connectors.folder import FolderSourceConfig
from connectors.folder import from_config as folder_connector
from indexer.chunking import Chunker
from indexer.fingerprints import acl_fingerprint, content_fingerprint
from indexer.run_types import RunType
from indexer.state_store import LeaseHeldError, RunRecord
from permindex.config import PermindexConfig, load_config
from permindex.runtime import open_runtime
from schedules import commands
from tests.conftest import delete_opensearch_indices

REPO = Path(__file__).resolve().parents[2]
SEED = 20261124
KILLS = 22  # kills that must land inside a running sync
MAX_ROUNDS = 60
SOURCE = "docs"

WORDS = [
    "invoice",
    "ledger",
    "quarter",
    "budget",
    "roadmap",
    "incident",
    "deploy",
    "rollback",
    "latency",
    "cluster",
    "shard",
    "replica",
    "tenant",
    "policy",
    "review",
    "hiring",
    "onboarding",
    "salary",
    "bonus",
    "contract",
    "renewal",
    "churn",
    "pipeline",
    "forecast",
    "vendor",
    "audit",
    "compliance",
    "backup",
    "restore",
    "migration",
    "schema",
    "index",
    "query",
    "cache",
]
FOLDERS = ("eng", "hr", "sales", "eng/platform")
USERS = ("alice@example.com", "bob@example.com", "hana@example.com", "sam@example.com")
ALLOW_CHOICES = (
    None,  # no sidecar: inherits org
    ["group:eng"],
    ["group:hr"],
    ["alice@example.com", "bob@example.com"],
    ["hana@example.com"],
    ["org"],
    ["group:sales", "sam@example.com"],
)


# -- the changing source ------------------------------------------------------------------


class Corpus:
    """A folder tree that a seeded RNG keeps changing."""

    def __init__(self, root: Path, rng: random.Random) -> None:
        self.root = root
        self.rng = rng
        self.serial = 0
        root.mkdir(parents=True)
        (root / ".permindex-acl.yaml").write_text("allow: [org]\n")
        for folder in FOLDERS:
            (root / folder).mkdir(parents=True, exist_ok=True)
        self.write_groups()
        for _ in range(60):
            self.create()

    def files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file() and not p.name.startswith("."))

    def text(self) -> str:
        paragraphs = []
        for _ in range(self.rng.randint(1, 12)):
            words = self.rng.choices(WORDS, k=self.rng.randint(8, 60))
            paragraphs.append(" ".join(words).capitalize() + ".")
        return "\n\n".join(paragraphs)

    def create(self) -> None:
        self.serial += 1
        folder = self.root / self.rng.choice(("", *FOLDERS))
        if self.rng.random() < 0.5:
            path = folder / f"page-{self.serial}.md"
            path.write_text(f"# Page {self.serial}\n\n{self.text()}\n\n## Notes\n\n{self.text()}\n")
        else:
            path = folder / f"note-{self.serial}.txt"
            path.write_text(self.text() + "\n")

    def edit(self) -> None:
        files = self.files()
        if files:
            path = self.rng.choice(files)
            path.write_text(f"# Edited {self.serial}\n\n{self.text()}\n")
            self.serial += 1

    def delete(self) -> None:
        files = self.files()
        if files:
            path = self.rng.choice(files)
            path.unlink()
            self.forget_rule(path)

    def move(self) -> None:
        files = self.files()
        if files:
            path = self.rng.choice(files)
            target = self.root / self.rng.choice(FOLDERS) / f"moved-{self.serial}{path.suffix}"
            self.serial += 1
            path.rename(target)
            self.forget_rule(path)

    def forget_rule(self, path: Path) -> None:
        """Drop a per-file rule for a file that is gone, as a careful administrator would: a rule
        that matches no file fails its folder closed (hidden, recorded), which this test, which
        compares the index with every live document, does not model."""
        sidecar = path.parent / ".permindex-acl.yaml"
        if not sidecar.exists():
            return
        rule = yaml.safe_load(sidecar.read_text()) or {}
        files = rule.get("files") or {}
        if path.name not in files:
            return
        del files[path.name]
        if not files:
            rule.pop("files")
        if rule:
            sidecar.write_text(yaml.safe_dump(rule))
        else:
            sidecar.unlink()

    def change_acl(self) -> None:
        folder = self.root / self.rng.choice(FOLDERS)
        sidecar = folder / ".permindex-acl.yaml"
        allow = self.rng.choice(ALLOW_CHOICES)
        rule: dict[str, object] = {}
        if allow is not None:
            rule = {"allow": allow, "inherit": self.rng.random() < 0.5}
        files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
        if files and self.rng.random() < 0.4:
            # A per-file rule: only that file's ACL changes, its content does not.
            chosen = self.rng.choice(files)
            rule["files"] = {chosen.name: {"allow": ["hana@example.com"], "inherit": False}}
        if rule:
            sidecar.write_text(yaml.safe_dump(rule))
        else:
            sidecar.unlink(missing_ok=True)

    def write_groups(self) -> None:
        groups = {
            "eng": self.rng.sample(USERS, 2),
            "hr": self.rng.sample(USERS, 1),
            "sales": [*self.rng.sample(USERS, 1), "group:eng"],
        }
        (self.root / ".permindex-groups.yaml").write_text(yaml.safe_dump({"groups": groups}))

    def mutate(self) -> None:
        operations = [self.create, self.edit, self.delete, self.move, self.change_acl]
        for _ in range(self.rng.randint(3, 12)):
            self.rng.choices(operations, weights=(4, 4, 2, 1, 1))[0]()
        if self.rng.random() < 0.15:
            self.write_groups()


# -- what the index must hold ---------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    content_fingerprint: str
    acl_fingerprint: str
    acl: frozenset[str]
    chunks: int


def expected_state(config: PermindexConfig) -> dict[str, Expected]:
    """Ask the connector for every live document and derive what the index must store for it."""
    source = config.source(SOURCE)
    assert isinstance(source, FolderSourceConfig)
    chunker = Chunker(config.chunking)
    expected: dict[str, Expected] = {}
    for event in folder_connector(source, config.org_policy).changes(None):
        if isinstance(event, DocumentFailed):
            pytest.fail(f"the generated corpus has a bad document: {event}")
        if isinstance(event, DocumentUpserted):
            doc = event.document
            expected[doc.doc_id] = Expected(
                content_fingerprint(doc, config.chunking, config.embedding.model),
                acl_fingerprint(doc.acl),
                doc.acl,
                len(chunker.chunk(doc)),
            )
    return expected


def assert_index_matches(
    runtime: commands.Runtime, expected: dict[str, Expected], principals: frozenset[str]
) -> None:
    index = runtime.stores.index
    index.refresh()
    actual = {fp.doc_id: fp for fp in index.iter_fingerprints(SOURCE)}
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    assert not missing and not extra, f"missing {missing[:5]}, extra {extra[:5]}"
    for doc_id, want in expected.items():
        got = actual[doc_id]
        assert got.content_fingerprint == want.content_fingerprint, doc_id
        assert got.acl_fingerprint == want.acl_fingerprint, doc_id
        if not want.acl:
            continue  # visible to nobody, so unreadable here: the chunk counts below cover it
        chunks = index.get_document_chunks(doc_id, principals)
        assert [c.chunk_index for c in chunks] == list(range(want.chunks)), doc_id
        assert {c.acl for c in chunks} == {want.acl}, doc_id
    stats = index.stats().sources.get(SOURCE)
    assert stats is not None
    # Counted over every chunk row of the source: a chunk whose document is gone shows up here.
    assert stats.documents == len(expected)
    assert stats.chunks == sum(e.chunks for e in expected.values())


def index_matches(runtime: commands.Runtime, expected: dict[str, Expected]) -> bool:
    runtime.stores.index.refresh()
    actual = {
        fp.doc_id: (fp.content_fingerprint, fp.acl_fingerprint)
        for fp in runtime.stores.index.iter_fingerprints(SOURCE)
    }
    return actual == {k: (e.content_fingerprint, e.acl_fingerprint) for k, e in expected.items()}


# -- driving the CLI ------------------------------------------------------------------------


def write_config(workdir: Path, index_section: dict[str, object]) -> Path:
    path = workdir / "permindex.yaml"
    config = {
        "tenant": "acme",
        "org": {"domains": ["example.com"]},
        "index": index_section,
        "embedding": {"model": "hashing:16"},
        "chunking": {"chunk_size": 48, "chunk_overlap": 8},
        # Short lease so the clean run after a kill can take over the dead run's lease quickly.
        "sync": {"lease_ttl": "2s", "write_batch_docs": 4, "embed_batch_chunks": 16},
        "sources": [{"type": "folder", "id": SOURCE, "path": "corpus", "checkpoint_every": 5}],
    }
    path.write_text(yaml.safe_dump(config))
    return path


def start_sync(config_path: Path, full: bool) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "permindex.cli", "--config", str(config_path), "sync", SOURCE]
    args += ["--quiet", *(["--full"] if full else [])]
    return subprocess.Popen(
        args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )


def wait_for_new_run(
    runtime: commands.Runtime, process: subprocess.Popen[bytes], known: set[str]
) -> bool:
    """True once the subprocess has started a run; False if it exited first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = runtime.stores.state.recent_runs(SOURCE, limit=1)
        if runs and runs[0].run_id not in known:
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.01)
    pytest.fail("the sync subprocess never started a run")


def clean_run(runtime: commands.Runtime, run_type: RunType) -> RunRecord:
    deadline = time.monotonic() + 30
    while True:
        try:
            record = commands.sync(runtime, SOURCE, run_type, owner="crash-test")
        except LeaseHeldError:
            # The killed run's lease has to expire first (lease_ttl above).
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        assert record.status == "succeeded", record.message
        return record


def crash_rounds(workdir: Path, index_section: dict[str, object]) -> None:
    rng = random.Random(SEED)
    corpus = Corpus(workdir / "corpus", rng)
    config_path = write_config(workdir, index_section)
    config = load_config(config_path)
    kills = diverged = 0
    window = 1.0  # seconds after a run starts within which the kill instant is drawn
    principals: set[str] = set()
    with open_runtime(config) as runtime:
        for round_no in range(MAX_ROUNDS):
            if kills >= KILLS:
                break
            if round_no:
                corpus.mutate()
            known = {r.run_id for r in runtime.stores.state.recent_runs(SOURCE, limit=1000)}
            process = start_sync(config_path, full=rng.random() < 0.25)
            delay = rng.uniform(0.0, window)
            try:
                if wait_for_new_run(runtime, process, known):
                    time.sleep(delay)
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    kills += 1
                else:
                    # Finished before the kill instant: aim earlier next time.
                    window = max(0.05, window * 0.7)
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    assert process.returncode == 0, stderr
            finally:
                if process.poll() is None:
                    process.kill()
                process.wait()
                if process.stderr:
                    process.stderr.close()
            expected = expected_state(config)
            if not index_matches(runtime, expected):
                diverged += 1  # the kill left work undone: the clean run has to repair it
            clean_run(runtime, RunType.incremental)
            principals |= {p for e in expected.values() for p in e.acl}
            assert_index_matches(runtime, expected, frozenset(principals))
        assert kills >= KILLS, f"only {kills} kills landed inside a run"
        print(f"{round_no} rounds, {kills} kills inside a run, {diverged} left the index behind")
        # Kills that never interrupt real work would prove nothing.
        assert diverged >= KILLS // 2, f"only {diverged} kills interrupted unfinished work"
        corpus.mutate()
        clean_run(runtime, RunType.full)
        expected = expected_state(config)
        principals |= {p for e in expected.values() for p in e.acl}
        assert_index_matches(runtime, expected, frozenset(principals))


@pytest.mark.slow
def test_sigkill_converges_embedded(tmp_path: Path) -> None:
    crash_rounds(tmp_path, {"embedded": {"path": "index.sqlite"}})


@pytest.fixture
def opensearch_index(opensearch_url: str) -> Iterator[dict[str, object]]:
    """A fresh index prefix on the test node; fails (never skips) when the node is down."""
    prefix = f"crash-{uuid.uuid4().hex[:8]}"
    yield {"opensearch": {"url": opensearch_url, "index_prefix": prefix}}
    delete_opensearch_indices(opensearch_url, prefix)


@pytest.mark.slow
@pytest.mark.opensearch
def test_sigkill_converges_opensearch(tmp_path: Path, opensearch_index: dict[str, object]) -> None:
    crash_rounds(tmp_path, opensearch_index)
