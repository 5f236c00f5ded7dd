"""The embedded index file on a disk that fills up and on a file system that turns read-only.

Real file systems: a small tmpfs mounted for the test, filled to ENOSPC by another file, and the
same tmpfs remounted read-only (EROFS). Mounting needs root (CAP_SYS_ADMIN); without it the tests
skip and say so. A read-only remount is refused while a file on it is open for writing (EBUSY),
so the read-only case closes the index first, as a service restarted on a read-only volume does.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.events import Checkpoint
from indexer.backend import IndexUnavailableError
from indexer.backends import Stores
from indexer.backends.embedded import open_embedded
from indexer.records import SearchFilters
from indexer.settings import EmbeddedSettings
from tests.connectors.scripted import Doc
from tests.faults.sources import GatedConnector, assert_matches_source, runner, seeded_docs, user

SIZE = "4m"


class Disk:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.index = root / "index.sqlite"

    def mount(self, *options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["mount", *options, str(self.root)], capture_output=True, text=True, check=False
        )

    def fill(self) -> None:
        """Write a filler file until the file system refuses with ENOSPC."""
        chunk = b"\0" * 65536
        with open(self.root / "filler", "wb", buffering=0) as filler:
            try:
                while True:
                    filler.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc

    def free(self) -> None:
        (self.root / "filler").unlink()

    def open(self) -> Stores:
        return open_embedded(EmbeddedSettings(path=self.index), 16)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Disk]:
    root = tmp_path / "disk"
    root.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield Disk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], capture_output=True, check=False)


ALICE = frozenset({user("alice@acme.com")})


def found(stores: Stores) -> set[str]:
    hits = stores.index.keyword_search("zebrafish", ALICE, SearchFilters(), 50)
    return {hit.external_id for hit in hits}


def sync(stores: Stores, docs: dict[str, Doc]) -> str:
    """Run a full sync; return how it ended: its status, or the error that refused it."""
    connector = GatedConnector(source_id="wiki", docs=docs, scopes=["a", "b"])
    try:
        record = runner(connector, stores).run("full")
    except IndexUnavailableError as exc:  # refused before a run record could be written
        return f"refused: {exc}"
    return f"{record.status}: {record.message}"


def grow(docs: dict[str, Doc]) -> None:
    """New pages and a revocation: writes a full or read-only disk cannot take."""
    for n in range(10):
        docs[f"b/new-{n}"] = Doc(scope="b", body=f"walrus {n} " * 200, acl=ALICE)
    docs["a/0"].acl = frozenset({user("bob@acme.com")})


def test_a_full_disk_stops_the_sync_and_the_previous_index_still_answers(disk: Disk) -> None:
    docs = seeded_docs("zebrafish")
    stores = disk.open()
    try:
        assert sync(stores, docs).startswith("succeeded")
        before = found(stores)
        assert before == {"a/0", "a/1", "a/2"}
        checkpoint = stores.state.get_checkpoint("wiki")

        disk.fill()
        grow(docs)
        outcome = sync(stores, docs)
        assert outcome.startswith(("failed", "refused")), outcome
        assert "disk is full" in outcome, outcome

        # Nothing lost: the open index and one opened anew (a service restarted on the full
        # disk) answer as before, checkpoint untouched.
        assert found(stores) == before
        assert stores.state.get_checkpoint("wiki") == checkpoint
        reopened = disk.open()
        try:
            assert found(reopened) == before
        finally:
            reopened.close()

        disk.free()
        assert sync(stores, docs).startswith("succeeded")
        assert_matches_source(stores, "wiki", docs)
        assert found(stores) == {"a/1", "a/2"}  # alice lost a/0 once the run could write
    finally:
        stores.close()


def test_a_read_only_file_system_refuses_writes_and_still_answers(disk: Disk) -> None:
    docs = seeded_docs("zebrafish")
    stores = disk.open()
    assert sync(stores, docs).startswith("succeeded")
    before = found(stores)
    checkpoint: Checkpoint | None = stores.state.get_checkpoint("wiki")
    stores.close()

    remounted = disk.mount("-o", "remount,ro")
    assert remounted.returncode == 0, remounted.stderr
    with pytest.raises(OSError) as refused:
        (disk.root / "probe").write_text("x")
    assert refused.value.errno == errno.EROFS

    grow(docs)
    stores = disk.open()  # a service started on the read-only volume
    try:
        assert found(stores) == before
        outcome = sync(stores, docs)
        assert outcome.startswith(("failed", "refused")), outcome
        assert "readonly" in outcome or "read-only" in outcome, outcome
        assert found(stores) == before
        assert stores.state.get_checkpoint("wiki") == checkpoint
    finally:
        stores.close()

    assert disk.mount("-o", "remount,rw").returncode == 0
    stores = disk.open()
    try:
        assert sync(stores, docs).startswith("succeeded")
        assert_matches_source(stores, "wiki", docs)
    finally:
        stores.close()
