"""Systemic failures stop a run safely; capabilities, leases, retries and batching behave."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest

from connectors.contract import Capabilities
from connectors.errors import RetryableError, SourceUnavailableError
from connectors.events import ListingEnd, ListingEvent, LiveId
from connectors.folder import FolderConnector
from connectors.principals import user
from indexer.backend import IndexUnavailableError
from indexer.backends import Stores
from indexer.embedding import Embedder
from indexer.listing_spill import SpilledIds
from indexer.pruning import read_listing, stale_documents
from indexer.records import DocFingerprint, DocumentWrite, SearchFilters, WriteResult
from indexer.retry import RetryPolicy
from indexer.runner import RunType, UnsupportedRunError
from indexer.state_store import LeaseHeldError, RunRecord
from tests.indexer.conftest import ORG, SOURCE, MakeRunner, Tree, utcnow

ALICE = frozenset({user("alice@example.com")})


def found(stores: Stores, query: str) -> set[str]:
    stores.index.refresh()
    hits = stores.index.keyword_search(query, ALICE, SearchFilters(), k=50)
    return {hit.external_id for hit in hits}


class FlakyIndex:
    """The real backend, except that writes fail as if the index went away after ``ok_writes``."""

    def __init__(self, inner: Any, ok_writes: int | None) -> None:
        self._inner = inner
        self.ok_writes = ok_writes

    def write_documents(self, writes: Sequence[DocumentWrite]) -> WriteResult:
        if self.ok_writes is not None:
            if self.ok_writes <= 0:
                raise IndexUnavailableError("connection refused")
            self.ok_writes -= 1
        return self._inner.write_documents(writes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class HalfListing(FolderConnector):
    def list_live_ids(self) -> Iterator[ListingEvent]:
        events = super().list_live_ids()
        yield next(events)
        raise SourceUnavailableError("page 2 of the listing timed out")


def test_a_listing_that_fails_halfway_deletes_nothing_and_says_so(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    tree.acl("", ["alice@example.com"])
    for name in ("a", "b", "c"):
        tree.write(f"{name}.txt", f"Document {name} about quarterly planning.")
    make_runner().run(RunType.incremental)
    checkpoint = stores.state.get_checkpoint(SOURCE)
    tree.remove("c.txt")
    connector = HalfListing(source_id=SOURCE, root=tree.root, org=ORG, clock=utcnow)

    record = make_runner(connector).run(RunType.full)

    assert record.status == "failed"
    assert "listing incomplete" in (record.message or "")
    assert "nothing was pruned" in (record.message or "")
    assert record.counts.deleted == 0
    assert found(stores, "quarterly planning") == {"a.txt", "b.txt", "c.txt"}
    assert stores.state.get_checkpoint(SOURCE) == checkpoint
    assert stores.state.recent_runs(SOURCE, limit=1)[0].message == record.message


def test_an_index_outage_stops_the_run_without_advancing_the_checkpoint(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    tree.acl("", ["alice@example.com"])
    tree.write("seed.txt", "Seed document.")
    make_runner().run(RunType.incremental)
    before = stores.state.get_checkpoint(SOURCE)
    for i in range(6):
        tree.write(f"new-{i}.txt", f"Fresh document {i} about the offsite.")
    connector = FolderConnector(
        source_id=SOURCE, root=tree.root, org=ORG, clock=utcnow, checkpoint_every=2
    )
    flaky = FlakyIndex(stores.index, ok_writes=2)
    outage = Stores(index=flaky, state=stores.state, directory=stores.directory)
    runner = make_runner(connector, write_batch_docs=1)
    runner.stores = outage

    record = runner.run(RunType.incremental)

    assert record.status == "failed"
    assert "index unavailable" in (record.message or "")
    saved = stores.state.get_checkpoint(SOURCE)
    # At most the checkpoint covering the two durable writes was saved, never a later one.
    assert saved is not None and saved != before
    assert len(found(stores, "offsite")) == 2
    assert stores.state.recent_runs(SOURCE, limit=1)[0].status == "failed"

    flaky.ok_writes = None  # the index is back
    again = runner.run(RunType.incremental)
    assert again.status == "succeeded", again.message
    assert found(stores, "offsite") == {f"new-{i}.txt" for i in range(6)}


def test_embedding_batches_span_documents(
    tree: Tree, stores: Stores, embedder: Embedder, make_runner: MakeRunner
) -> None:
    tree.acl("", ["alice@example.com"])
    for i in range(10):
        tree.write(f"note-{i}.txt", f"Short note {i}.")
    sizes: list[int] = []

    class Counting:
        dimension = embedder.dimension

        def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
            sizes.append(len(texts))
            return embedder.embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text)

    runner = make_runner(embed_batch_chunks=4)
    runner.embedder = Counting()
    record = runner.run(RunType.incremental)

    assert record.counts.chunks_embedded == 10
    assert sizes == [4, 4, 2]


def test_another_run_holding_the_lease_is_refused(stores: Stores, make_runner: MakeRunner) -> None:
    runner = make_runner()
    stores.state.acquire_lease(SOURCE, "someone-else", runner.lease_ttl, utcnow())
    with pytest.raises(LeaseHeldError):
        runner.run(RunType.incremental)


def test_unsupported_run_type_is_a_clear_error(tree: Tree, make_runner: MakeRunner) -> None:
    class NoRefresh(FolderConnector):
        capabilities = Capabilities(permissions_refresh=False, groups=False, identities=False)

    connector = NoRefresh(source_id=SOURCE, root=tree.root, org=ORG, clock=utcnow)
    with pytest.raises(UnsupportedRunError, match="permissions refresh"):
        make_runner(connector).run(RunType.permissions)
    with pytest.raises(UnsupportedRunError, match="groups"):
        make_runner(connector).run(RunType.groups)


def test_groups_run_syncs_memberships_and_identities(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    (tree.root / ".permindex-groups.yaml").write_text(
        "groups:\n  eng: [alice@example.com, group:platform]\n  platform: [account:u42]\n"
        "identities:\n  u42: carol@example.com\n"
    )
    record = make_runner().run(RunType.groups)

    assert record.status == "succeeded", record.message
    assert stores.directory.members_of(f"group:{SOURCE}:eng") == {
        "user:alice@example.com",
        f"group:{SOURCE}:platform",
    }
    assert stores.directory.accounts_of("carol@example.com") == {f"account:{SOURCE}:u42"}


def test_source_outage_fails_the_run_and_keeps_the_checkpoint(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    tree.acl("", ["alice@example.com"])
    tree.write("a.txt", "alpha")
    make_runner().run(RunType.incremental)
    before = stores.state.get_checkpoint(SOURCE)

    class Down(FolderConnector):
        def changes(self, checkpoint, context=None):
            yield from ()
            raise SourceUnavailableError("401: token revoked")

    connector = Down(source_id=SOURCE, root=tree.root, org=ORG, clock=utcnow)
    record = make_runner(connector).run(RunType.incremental)

    assert record.status == "failed"
    assert "token revoked" in (record.message or "")
    assert stores.state.get_checkpoint(SOURCE) == before


def test_retry_waits_at_least_what_retry_after_asks() -> None:
    waits: list[float] = []
    calls = iter([RetryableError("429", retry_after=7.0), RetryableError("503"), None])

    def flaky() -> str:
        error = next(calls)
        if error is not None:
            raise error
        return "ok"

    policy = RetryPolicy(attempts=3, initial_wait_s=0.1, max_wait_s=1.0, sleep=waits.append)
    assert policy.call(flaky) == "ok"
    assert waits[0] >= 7.0
    assert waits[1] <= 1.0 + 1e-9


def test_retry_gives_up_after_its_attempts() -> None:
    attempts: list[int] = []

    def down() -> None:
        attempts.append(1)
        raise IndexUnavailableError("refused")

    with pytest.raises(IndexUnavailableError):
        RetryPolicy(attempts=3, sleep=lambda _s: None).call(down)
    assert len(attempts) == 3


def test_pruning_deletes_only_what_a_completed_listing_leaves_out() -> None:
    # Replaces a test that asserted a literal field value and could not fail (issue 7 item 17).
    started = utcnow()
    indexed = [
        DocFingerprint(
            doc_id=f"{SOURCE}:{name}",
            external_id=name,
            content_fingerprint="c",
            acl_fingerprint="a",
            indexed_at=started - timedelta(minutes=1),
        )
        for name in ("kept", "gone", "failed")
    ]

    def stale(events: list[ListingEvent]) -> list[str]:
        with SpilledIds() as live:
            listing = read_listing(iter(events), live)
            pages = stale_documents(
                indexed, listing, listing_started=started, protected={f"{SOURCE}:failed"}
            )
            return [doc_id for page in pages for doc_id in page]

    live = LiveId(external_id="kept")
    assert stale([live, ListingEnd(completed=True)]) == [f"{SOURCE}:gone"]
    assert stale([live]) == []  # no end event: incomplete
    assert stale([live, ListingEnd(completed=False, reason="page 3 timed out")]) == []


def test_a_run_whose_process_died_is_marked_interrupted_by_the_next_run(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    # A SIGKILLed run never records its end; `permindex status` would show it running forever.
    dead = RunRecord(
        run_id="dead-run",
        source_id=SOURCE,
        run_type="incremental",
        status="running",
        started_at=utcnow(),
    )
    stores.state.save_run(dead)
    make_runner().run(RunType.incremental)
    runs = {run.run_id: run for run in stores.state.recent_runs(SOURCE)}
    assert runs["dead-run"].status == "interrupted"
    assert "died" in (runs["dead-run"].message or "")
    assert [run.status for run in runs.values() if run.run_id != "dead-run"] == ["succeeded"]
