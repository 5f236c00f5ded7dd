"""The source platform (issue 8) through a scripted SaaS-like source, on both backends: waits
out Retry-After keeping the lease, scoped failures, version skips, stop requests, checkpointed
permission runs, prune runs, source ids checked, bounded run records, fenced writes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from connectors.contract import EMPTY_INDEX, Capabilities, SyncContext
from connectors.directory import GroupMembership
from connectors.events import (
    ChangeEvent,
    Checkpoint,
    CheckpointReached,
    PermissionsChanged,
    PermissionsEvent,
)
from connectors.org import members_group
from connectors.principals import user
from indexer import checkpoints
from indexer.backends import Stores
from indexer.embedding import HashingEmbedder
from indexer.records import SearchFilters
from indexer.retry import RetryPolicy
from indexer.runner import RunType, SyncRunner
from indexer.settings import ChunkingSettings
from indexer.state_store import LeaseHeldError
from tests.connectors.scripted import Doc, Refusal, ScriptedConnector

SOURCE = "wiki"
ALICE = frozenset({user("alice@example.com")})
EMBEDDER = HashingEmbedder(16)


@pytest.fixture
def dimension() -> int:
    return EMBEDDER.dimension


class FakeTime:
    """A clock that only moves when the run waits: waits are instant and exactly measured."""

    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, tzinfo=UTC)
        self.waited: list[float] = []

    def clock(self) -> datetime:
        # Each reading a little later, as a real clock would be: pruning compares times.
        self.now += timedelta(milliseconds=1)
        return self.now

    def waiter(self, stop: threading.Event, seconds: float) -> bool:
        self.waited.append(seconds)
        self.now += timedelta(seconds=seconds)
        return stop.is_set()


def source(**options: object) -> ScriptedConnector:
    docs = {
        f"{scope}/{n}": Doc(scope=scope, body=f"{scope} page {n} about zebrafish", acl=ALICE)
        for scope in ("eng", "hr", "ops")
        for n in range(4)
    }
    return ScriptedConnector(source_id=SOURCE, docs=docs, scopes=["eng", "hr", "ops"], **options)  # type: ignore[arg-type]


def runner(
    connector: ScriptedConnector, stores: Stores, time: FakeTime, **options: object
) -> SyncRunner:
    return SyncRunner(
        connector,
        stores,
        EMBEDDER,
        chunking=ChunkingSettings(chunk_size=64, chunk_overlap=8),
        model_name="hashing:16",
        clock=time.clock,
        waiter=time.waiter,
        retry=RetryPolicy(attempts=2, sleep=lambda _s: None),
        **options,  # type: ignore[arg-type]
    )


def indexed(stores: Stores) -> set[str]:
    stores.index.refresh()
    return {fp.external_id for fp in stores.index.iter_fingerprints(SOURCE)}


def visible(stores: Stores) -> set[str]:
    stores.index.refresh()
    hits = stores.index.keyword_search("zebrafish", ALICE, SearchFilters(), k=100)
    return {hit.external_id for hit in hits}


def test_a_long_retry_after_is_waited_out_without_losing_the_lease(stores: Stores) -> None:
    time = FakeTime()
    connector = source(refusals=[Refusal(at=5, retry_after=3600.0)])
    sync = runner(
        connector, stores, time, lease_ttl=timedelta(minutes=5), max_source_wait=timedelta(hours=2)
    )
    record = sync.run(RunType.incremental)
    assert record.status == "succeeded", record.message
    assert sum(time.waited) == pytest.approx(3600.0)
    assert max(time.waited) <= 100.0  # sliced, so the lease was renewed throughout
    assert len(indexed(stores)) == 12
    # An hour passed with a five-minute lease: it was renewed, so it was never up for grabs,
    # and the resumed stream restarted from the last checkpoint, not from scratch.
    assert connector.fetched.count("eng/0") == 1


def test_a_source_that_keeps_refusing_fails_the_run_and_advances_nothing(stores: Stores) -> None:
    time = FakeTime()
    first = runner(source(), stores, time)
    assert first.run(RunType.incremental).status == "succeeded"
    before = stores.state.get_checkpoint(SOURCE)
    record = runner(source(refuse_forever=True), stores, time, source_attempts=4).run(
        RunType.incremental
    )
    assert record.status == "failed"
    assert "source unavailable" in (record.message or "")
    assert "kept refusing (4 times" in (record.message or "")
    assert stores.state.get_checkpoint(SOURCE) == before


def test_a_failed_scope_is_recorded_and_pruning_spares_it(stores: Stores) -> None:
    time = FakeTime()
    connector = source()
    assert runner(connector, stores, time).run(RunType.full).status == "succeeded"
    # hr fails to list; a page of ops and a page of hr are deleted at the source
    del connector.docs["ops/1"]
    del connector.docs["hr/1"]
    connector.failing_scopes = {"hr"}
    record = runner(connector, stores, time).run(RunType.full)
    assert record.status == "partial", record.message
    assert [s.scope for s in record.failed_scopes] == ["hr"]
    assert "ops/1" not in indexed(stores)
    assert "hr/1" in indexed(stores)  # its scope's listing failed: absence proves nothing
    connector.failing_scopes = set()
    assert runner(connector, stores, time).run(RunType.prune).status == "succeeded"
    assert "hr/1" not in indexed(stores)


def test_documents_whose_version_the_index_holds_are_not_fetched_again(stores: Stores) -> None:
    time = FakeTime()
    connector = source()
    runner(connector, stores, time).run(RunType.incremental)
    assert len(connector.fetched) == 12
    connector.fetched.clear()
    connector.docs["eng/2"].version = "2"
    connector.docs["eng/2"].body = "eng page 2 about zebrafish, revised"
    record = runner(connector, stores, time).run(RunType.incremental)
    assert connector.fetched == ["eng/2"]
    assert (record.counts.updated, record.counts.chunks_embedded) == (1, 1)


def test_an_event_for_another_source_stops_the_run_and_applies_nothing(stores: Stores) -> None:
    time = FakeTime()
    other = source()
    other.source_id = "hr-drive"
    runner(other, stores, time).run(RunType.incremental)
    record = runner(source(foreign_source="hr-drive"), stores, time).run(RunType.incremental)
    assert record.status == "failed"
    assert "sent an event for source 'hr-drive'" in (record.message or "")
    stores.index.refresh()
    assert len(list(stores.index.iter_fingerprints("hr-drive"))) == 12


def test_a_stop_request_ends_after_a_durable_checkpoint_and_the_next_run_resumes(
    stores: Stores,
) -> None:
    time = FakeTime()
    connector = source()
    sync = runner(connector, stores, time, event_batch=3)
    original = connector._tick

    def stop_after_first_scope(event):  # the operator's SIGTERM, mid-run
        if connector.emitted == 6:
            sync.request_stop()
        return original(event)

    connector._tick = stop_after_first_scope  # type: ignore[method-assign]
    record = sync.run(RunType.incremental)
    assert record.status == "stopped"
    assert stores.state.get_checkpoint(SOURCE) is not None
    done = indexed(stores)
    assert {f"eng/{n}" for n in range(4)} <= done and not any(i.startswith("ops") for i in done)
    connector._tick = original  # type: ignore[method-assign]
    connector.fetched.clear()
    assert runner(connector, stores, time).run(RunType.incremental).status == "succeeded"
    assert len(indexed(stores)) == 12
    assert not any(i.startswith("eng/") for i in connector.fetched)  # resumed after eng


def test_a_permissions_run_resumes_per_scope_and_keeps_the_changes_checkpoint(
    stores: Stores,
) -> None:
    time = FakeTime()
    connector = source()
    runner(connector, stores, time).run(RunType.incremental)
    changes_checkpoint = stores.state.get_checkpoint(SOURCE)
    bob = frozenset({user("bob@example.com")})
    for doc in connector.docs.values():
        doc.acl = bob  # revoked from alice everywhere
    connector.refusals = [Refusal(at=connector.emitted + 6, retry_after=None, times=99)]
    stopped = runner(connector, stores, time, source_attempts=2).run(RunType.permissions)
    assert stopped.status == "failed"
    # what was handled before the source gave up (eng, then hr/0) is applied and stays
    assert visible(stores) == {"hr/1", "hr/2", "hr/3", *(f"ops/{n}" for n in range(4))}
    connector.refusals = []
    record = runner(connector, stores, time).run(RunType.permissions)
    assert record.status == "succeeded", record.message
    # resumed after eng, the scope its checkpoint covered: hr/0 again (unchanged), then the rest
    assert (record.counts.acl_updated, record.counts.unchanged) == (7, 1)
    assert visible(stores) == set()
    # the changes cursor did not move; the permissions one is back at the start of its walk
    changes_now, permissions_now = checkpoints.split(stores.state.get_checkpoint(SOURCE))
    assert changes_now == checkpoints.split(changes_checkpoint)[0]
    assert permissions_now is not None and permissions_now.value == {"done": []}


def test_run_records_keep_the_first_errors_and_count_the_rest(stores: Stores) -> None:
    time = FakeTime()
    connector = source()
    for n in range(150):
        connector.docs[f"eng/bad-{n:03d}"] = Doc(scope="eng", body="lost", acl=ALICE)
    connector.broken = {f"eng/bad-{n:03d}" for n in range(150)}
    record = runner(connector, stores, time).run(RunType.incremental)
    assert record.status == "succeeded"
    assert len(record.errors) == 100
    assert record.errors[0].doc_id == f"{SOURCE}:eng/bad-000"
    assert record.error_counts == {"cannot fetch": 150}
    assert record.counts.failed == 150
    assert len(indexed(stores)) == 12


def test_writes_stop_once_another_worker_holds_the_lease(stores: Stores) -> None:
    time = FakeTime()
    connector = source()
    sync = runner(connector, stores, time, lease_ttl=timedelta(seconds=30))
    original = connector._tick

    def stall(event):  # paused past the lease's expiry; another worker takes over
        if connector.emitted == 6:
            time.now += timedelta(minutes=10)
            stores.state.acquire_lease(SOURCE, "other-worker", timedelta(minutes=5), time.now)
        return original(event)

    connector._tick = stall  # type: ignore[method-assign]
    record = sync.run(RunType.incremental)
    assert record.status == "failed"
    assert "lease lost" in (record.message or "")
    assert not any(i.startswith(("hr/", "ops/")) for i in indexed(stores))
    with pytest.raises(LeaseHeldError):
        runner(connector, stores, time).run(RunType.incremental)


Clock = Callable[[], datetime]


def test_a_field_only_change_rewrites_fields_and_embeds_nothing(stores: Stores) -> None:
    # A Jira status change: new metadata and updated time, same text.
    time = FakeTime()
    connector = source()
    runner(connector, stores, time).run(RunType.incremental)
    original = connector._document

    def with_status(external_id: str):
        doc = original(external_id)
        if external_id == "eng/1":
            return doc.model_copy(
                update={"metadata": {"status": "Done"}, "updated_at": time.now, "version": "2"}
            )
        return doc

    connector._document = with_status  # type: ignore[method-assign]
    connector.docs["eng/1"].version = "2"
    record = runner(connector, stores, time).run(RunType.incremental)
    assert record.status == "succeeded", record.message
    assert (record.counts.fields_updated, record.counts.chunks_embedded) == (1, 0)
    stores.index.refresh()
    hits = stores.index.keyword_search(
        "zebrafish", ALICE, SearchFilters(metadata={"status": frozenset({"Done"})}), k=10
    )
    assert [h.external_id for h in hits] == ["eng/1"]
    # and the version was recorded with it: the next run fetches nothing
    connector.fetched.clear()
    runner(connector, stores, time).run(RunType.incremental)
    assert connector.fetched == []


class _Impostor(ScriptedConnector):
    """A source whose group data names another source's group (its org members)."""

    capabilities = Capabilities(incremental=True, listing=True, groups=True)

    def groups(self) -> Iterator[GroupMembership]:
        yield GroupMembership(group=f"group:{SOURCE}:eng", members=frozenset({"user:a@acme.com"}))
        yield GroupMembership(
            group=members_group("confluence"), members=frozenset({"user:mallory@evil.io"})
        )


def test_a_source_cannot_define_another_sources_groups(stores: Stores) -> None:
    time = FakeTime()
    impostor = _Impostor(source_id=SOURCE, docs={}, scopes=[])
    record = runner(impostor, stores, time).run(RunType.groups)
    assert record.status == "failed"
    assert "belongs to another source" in (record.message or "")
    assert stores.directory.groups_containing({"user:mallory@evil.io"}) == set()
    assert stores.directory.members_of(f"group:{SOURCE}:eng") == set()  # nothing replaced


@dataclass
class WatchedConnector(ScriptedConnector):
    """Records, each time the runner asks for the next event after a checkpoint, what the index
    and the state store already hold: what a reader (or a worker taking over) would see then."""

    stores: Stores | None = None
    seen: list[tuple[checkpoints.Checkpoint | None, set[str]]] = field(default_factory=list)

    def changes(
        self, checkpoint: checkpoints.Checkpoint | None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[ChangeEvent]:
        for event in super().changes(checkpoint, context):
            yield event
            if isinstance(event, CheckpointReached) and self.stores is not None:
                saved = self.stores.state.get_checkpoint(SOURCE)
                self.seen.append((checkpoints.split(saved)[0], indexed(self.stores)))


def test_a_checkpoint_is_durable_before_the_source_is_read_further(stores: Stores) -> None:
    # A slow source (pages behind rate limits) must not have its handled pages wait in memory
    # for a full batch of events: a worker killed then would lose them, and readers would not
    # see them. Each checkpoint ends the batch: its documents are written and it is saved.
    connector = WatchedConnector(
        source_id=SOURCE,
        docs={
            f"{scope}-{n}": Doc(scope=scope, body=f"zebrafish {scope} {n}", acl=ALICE)
            for scope in ("eng", "hr")
            for n in range(3)
        },
        scopes=["eng", "hr"],
        stores=stores,
    )
    record = runner(connector, stores, FakeTime()).run(RunType.incremental)
    assert record.status == "succeeded"
    first_checkpoint, first_indexed = connector.seen[0]
    assert first_checkpoint is not None and first_checkpoint.value == {"done": ["eng"]}
    assert first_indexed == {"eng-0", "eng-1", "eng-2"}


@dataclass
class FailClosedConnector(ScriptedConnector):
    """Hides every indexed document its permissions walk did not see, as Jira's and Confluence's
    permissions runs do for documents gone from every scope."""

    def permissions(
        self, checkpoint: object = None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[PermissionsEvent]:
        seen = {i for i, d in self.docs.items() if d.scope in self.scopes}
        for external_id in sorted(seen):
            yield self._acl(external_id)
        for external_id in context.indexed_ids():
            if external_id not in seen:
                yield PermissionsChanged(source_id=SOURCE, external_id=external_id, acl=frozenset())
        yield CheckpointReached(checkpoint=Checkpoint(value={}))


def test_a_scope_run_sees_only_its_scopes_documents_in_the_index(stores: Stores) -> None:
    """A worker's permissions run over one space must not fail the other spaces closed: the
    index's documents it is shown are its scope's only."""
    time = FakeTime()
    everything = FailClosedConnector(source_id=SOURCE, docs=source().docs, scopes=["eng", "hr"])
    runner(everything, stores, time).run(RunType.incremental)
    eng = FailClosedConnector(source_id=SOURCE, docs=everything.docs, scopes=["eng"])
    record = runner(eng, stores, time, scope="eng").run(RunType.permissions)
    assert record.status == "succeeded", record.message
    assert visible(stores) == {f"{scope}/{n}" for scope in ("eng", "hr") for n in range(4)}
    # unscoped, the same walk hides what it did not see
    runner(eng, stores, time).run(RunType.permissions)
    assert visible(stores) == {f"eng/{n}" for n in range(4)}
