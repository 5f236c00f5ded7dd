"""The connector conformance suite: every connector (through its kit) on both backends.

- declared capabilities match what is implemented;
- every event carries the connector's own source id;
- a run stopped after any batch, then resumed, converges to what one clean run gives;
- a listing interrupted anywhere prunes nothing;
- a storm of 429/5xx answers (RetryableError) mid-stream completes and converges;
- a source split into scopes (one run per scope, as workers run them) emits each scope's
  documents only and converges to what one unscoped run gives.
SIGKILL at random points is tests/indexer/test_crash.py (the folder connector through the CLI).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.contract import EMPTY_INDEX, Connector
from connectors.errors import RetryableError
from connectors.events import (
    DocumentDeleted,
    DocumentFailed,
    DocumentUpserted,
    ListingEvent,
    PermissionsChanged,
)
from indexer.backends import Stores
from indexer.embedding import HashingEmbedder
from indexer.retry import RetryPolicy
from indexer.runner import RunType, SyncRunner
from indexer.settings import ChunkingSettings
from schedules.scopes import ScopedSource, restrict, scopes_of
from tests.conftest import MakeStores
from tests.connectors.conformance.kits import Kit, discovered_kits

EMBEDDER = HashingEmbedder(16)


@pytest.fixture
def dimension() -> int:
    return EMBEDDER.dimension


KITS = discovered_kits()


@pytest.fixture(params=sorted(KITS))
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kit]:
    yield from KITS[request.param](tmp_path)


def no_wait(stop: threading.Event, seconds: float) -> bool:
    return stop.is_set()


def runner(connector: Connector, stores: Stores, **options: Any) -> SyncRunner:
    return SyncRunner(
        connector,
        stores,
        EMBEDDER,
        chunking=ChunkingSettings(chunk_size=64, chunk_overlap=8),
        model_name="hashing:16",
        clock=_clock(),
        waiter=no_wait,
        retry=RetryPolicy(attempts=2, sleep=lambda _s: None),
        lease_ttl=timedelta(minutes=5),
        **options,
    )


def _clock() -> Callable[[], Any]:
    from datetime import UTC, datetime

    return lambda: datetime.now(UTC)


def state(stores: Stores, source_id: str) -> dict[str, tuple[str, str]]:
    stores.index.refresh()
    return {
        fp.external_id: (fp.content_fingerprint, fp.acl_fingerprint)
        for fp in stores.index.iter_fingerprints(source_id)
    }


def clean(kit: Kit, make_stores: MakeStores) -> dict[str, tuple[str, str]]:
    """What one full run over the source as it is now gives."""
    stores = make_stores(EMBEDDER.dimension)
    stores.index.ensure_schema()
    connector = kit.connector()
    assert runner(connector, stores).run(RunType.full).status in ("succeeded", "partial")
    return state(stores, connector.source_id)


def test_declared_capabilities_are_implemented(kit: Kit) -> None:
    connector = kit.connector()
    caps = connector.capabilities
    calls: dict[str, Callable[[], Iterator[object]]] = {
        "listing": connector.list_live_ids,
        "permissions_refresh": connector.permissions,
        "groups": connector.groups,
        "identities": connector.identities,
    }
    for capability, call in calls.items():
        if getattr(caps, capability):
            list(call())
        else:
            with pytest.raises(NotImplementedError):
                list(call())
    assert list(connector.changes(None))  # every connector streams changes


def test_every_event_carries_the_connectors_source_id(kit: Kit) -> None:
    connector = kit.connector()
    events = [
        *connector.changes(None),
        *(connector.permissions() if connector.capabilities.permissions_refresh else []),
    ]
    ids = set()
    for event in events:
        if isinstance(event, DocumentUpserted):
            ids.add(event.document.source_id)
        elif isinstance(event, DocumentDeleted | PermissionsChanged | DocumentFailed):
            ids.add(event.source_id)
    assert ids == {connector.source_id}


class _StopsAfter(Connector):
    """The kit's connector; after ``events`` events the operator asks the run to stop."""

    def __init__(self, inner: Connector, events: int) -> None:
        self._inner = inner
        self._events = events
        self.source_id = inner.source_id
        self.capabilities = inner.capabilities
        self.stop: Callable[[], None] = lambda: None

    def validate(self) -> None:
        self._inner.validate()

    def changes(self, checkpoint: Any, context: Any = EMPTY_INDEX) -> Iterator[Any]:
        for n, event in enumerate(self._inner.changes(checkpoint, context)):
            if n == self._events:
                self.stop()
            yield event

    def list_live_ids(self) -> Iterator[ListingEvent]:
        return self._inner.list_live_ids()

    def scope_of(self, external_id: str) -> str:
        return self._inner.scope_of(external_id)


@pytest.mark.parametrize("events", [1, 4, 9])
def test_a_run_stopped_after_any_batch_resumes_and_converges(
    kit: Kit, make_stores: MakeStores, events: int
) -> None:
    stores = make_stores(EMBEDDER.dimension)
    stores.index.ensure_schema()
    connector = kit.connector()
    runner(connector, stores).run(RunType.full)
    kit.change(random.Random(events))
    stopping = _StopsAfter(kit.connector(), events)
    sync = runner(stopping, stores, event_batch=2)
    stopping.stop = sync.request_stop
    assert sync.run(RunType.incremental).status == "stopped"
    resumed = runner(kit.connector(), stores).run(RunType.incremental)
    assert resumed.status in ("succeeded", "partial"), resumed.message
    assert runner(kit.connector(), stores).run(RunType.prune).status == "succeeded"
    assert state(stores, connector.source_id) == clean(kit, make_stores)


class _HalfListing(Connector):
    """The kit's connector, except that its listing fails after ``stop_at`` events."""

    def __init__(self, inner: Connector, stop_at: int) -> None:
        self._inner = inner
        self._stop_at = stop_at
        self.source_id = inner.source_id
        self.capabilities = inner.capabilities

    def validate(self) -> None:
        self._inner.validate()

    def changes(self, checkpoint: Any, context: Any = None) -> Iterator[Any]:
        return (
            self._inner.changes(checkpoint, context) if context else self._inner.changes(checkpoint)
        )

    def list_live_ids(self) -> Iterator[ListingEvent]:
        for n, event in enumerate(self._inner.list_live_ids()):
            if n == self._stop_at:
                raise RetryableError("503 Service Unavailable while listing")
            yield event

    def scope_of(self, external_id: str) -> str:
        return self._inner.scope_of(external_id)


def test_a_listing_interrupted_anywhere_prunes_nothing(kit: Kit, stores: Stores) -> None:
    connector = kit.connector()
    runner(connector, stores).run(RunType.full)
    before = state(stores, connector.source_id)
    kit.change(random.Random(2))
    length = sum(1 for _ in kit.connector().list_live_ids())
    for stop_at in sorted({0, 1, length // 2, length - 1}):
        record = runner(_HalfListing(kit.connector(), stop_at), stores).run(RunType.prune)
        assert record.status == "failed"
        assert "nothing was pruned" in (record.message or "")
        assert set(state(stores, connector.source_id)) == set(before)


class _Stormy(Connector):
    """The kit's connector behind a flaky API: 429s and 503s at seeded points of the stream."""

    def __init__(self, inner: Connector, rng: random.Random) -> None:
        self._inner = inner
        self._rng = rng
        self.source_id = inner.source_id
        self.capabilities = inner.capabilities
        self.refusals = 0

    def validate(self) -> None:
        self._inner.validate()

    def changes(self, checkpoint: Any, context: Any = EMPTY_INDEX) -> Iterator[Any]:
        for event in self._inner.changes(checkpoint, context):
            if self._rng.random() < 0.2:
                self.refusals += 1
                retry_after = self._rng.choice([None, 1.0, 30.0])
                raise RetryableError("429 Too Many Requests", retry_after=retry_after)
            yield event

    def list_live_ids(self) -> Iterator[ListingEvent]:
        return self._inner.list_live_ids()

    def scope_of(self, external_id: str) -> str:
        return self._inner.scope_of(external_id)


def test_a_storm_of_429s_and_503s_completes_and_converges(
    kit: Kit, stores: Stores, make_stores: MakeStores
) -> None:
    stormy = _Stormy(kit.connector(), random.Random(3))
    record = runner(stormy, stores, source_attempts=1000, max_source_wait=timedelta(days=1)).run(
        RunType.full
    )
    assert record.status in ("succeeded", "partial"), record.message
    assert stormy.refusals > 3
    assert state(stores, stormy.source_id) == clean(kit, make_stores)


# Scope runs multiply each kit's runs by its scope count: one backend is enough for what this
# checks (the split), and both backends run the same runner code.
@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_a_source_run_scope_by_scope_converges_to_one_unscoped_run(
    kit: Kit, make_stores: MakeStores
) -> None:
    """What Celery workers do with a source: each run type as one run per scope, each with its
    own lease and checkpoint. Connectors without scopes run as the one scope ""."""
    connector = kit.connector()
    scopes = scopes_of(connector, RunType.incremental)
    for scope in scopes:
        for event in restrict(connector, scope).changes(None):
            external_id = getattr(event, "external_id", None)
            if external_id is not None and scope:
                assert connector.scope_of(external_id) == scope, (scope, external_id)
    if isinstance(connector, ScopedSource):
        assert len(scopes) > 1, f"{kit.name} offers scopes but its kit has one"
    stores = make_stores(EMBEDDER.dimension)
    stores.index.ensure_schema()
    for round_ in range(2):
        for run_type in (RunType.incremental, RunType.permissions, RunType.full):
            fresh = kit.connector()
            if run_type is RunType.permissions and not fresh.capabilities.permissions_refresh:
                continue
            for scope in scopes_of(fresh, run_type):
                record = runner(restrict(fresh, scope), stores, scope=scope).run(run_type)
                assert record.status in ("succeeded", "partial"), (scope, record.message)
        assert state(stores, connector.source_id) == clean(kit, make_stores), round_
        kit.change(random.Random(round_))
