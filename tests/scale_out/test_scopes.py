"""Scope runs in-process (the code `permindex schedule` and the workers share), no Redis: a scope's
full run prunes only its own scope, and a request delivered twice runs once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from indexer.backends import open_stores
from indexer.embedding import HashingEmbedder
from indexer.run_types import RunType
from indexer.settings import ChunkingSettings, IndexSettings
from schedules.commands import Runtime
from schedules.jobs import SyncScheduler
from schedules.work import WorkItem, execute, plan
from tests.scale_out.scoped_source import ScopedSyntheticConnector, ScopedSyntheticSettings


@pytest.fixture
def source() -> ScopedSyntheticConnector:
    return ScopedSyntheticConnector(
        ScopedSyntheticSettings(id="alpha", scopes=3, docs_per_scope=6, checkpoint_every=2)
    )


@pytest.fixture
def runtime(tmp_path: Path, source: ScopedSyntheticConnector) -> Iterator[Runtime]:
    stores = open_stores(IndexSettings(embedded={"path": str(tmp_path / "i.sqlite")}), 64)
    stores.index.ensure_schema()
    with Runtime(
        stores=stores,
        source_ids=["alpha"],
        connector_for=lambda _source_id: source,
        embedder_factory=lambda: HashingEmbedder(64),
        chunking=ChunkingSettings(),
        model_name="hashing:64",
        clock=lambda: datetime.now(UTC),
    ) as made:
        yield made


def indexed(runtime: Runtime) -> list[str]:
    runtime.stores.index.refresh()
    return sorted(fp.external_id for fp in runtime.stores.index.iter_fingerprints("alpha"))


def test_a_scope_full_run_prunes_only_its_own_scope(
    runtime: Runtime, source: ScopedSyntheticConnector
) -> None:
    SyncScheduler(runtime).run_once("alpha", RunType.incremental)
    assert len(indexed(runtime)) == 18
    # Every scope now lists two documents fewer; only s01 runs its full sync.
    source.settings = source.settings.model_copy(update={"docs_per_scope": 4})

    record = execute(runtime, WorkItem(source_id="alpha", scope="s01", run_type=RunType.full))

    assert record is not None and record.status == "succeeded"
    after = indexed(runtime)
    assert [i for i in after if i.startswith("s01/")] == [f"s01/doc-{n:06d}" for n in range(4)]
    assert sum(1 for i in after if i.startswith(("s00/", "s02/"))) == 12  # not theirs to prune


def test_a_request_delivered_twice_runs_once(runtime: Runtime) -> None:
    item = WorkItem(source_id="alpha", scope="s02", run_type=RunType.incremental)

    first = execute(runtime, item)
    again = execute(runtime, item)

    assert first is not None and first.status == "succeeded"
    assert again is None
    runs = runtime.stores.state.recent_runs("alpha", limit=50)
    assert [r.request_id for r in runs] == [item.request_id]


def test_a_scope_gone_from_the_source_is_planned_until_its_documents_are_gone(
    runtime: Runtime, source: ScopedSyntheticConnector
) -> None:
    """A deleted channel or a drive the account lost is no longer offered by the source, yet
    its documents are indexed: the runs that decide what the index keeps still plan it, so its
    scope run removes them; incremental runs plan only what the source offers."""
    SyncScheduler(runtime).run_once("alpha", RunType.incremental)
    source.settings = source.settings.model_copy(update={"scopes": 2})  # s02 is gone
    assert [i.scope for i in plan(runtime, "alpha", RunType.incremental)] == ["s00", "s01"]
    assert [i.scope for i in plan(runtime, "alpha", RunType.full)] == ["s00", "s01", "s02"]

    SyncScheduler(runtime).run_once("alpha", RunType.full)

    assert indexed(runtime) == [f"s0{s}/doc-{n:06d}" for s in (0, 1) for n in range(6)]
    assert [i.scope for i in plan(runtime, "alpha", RunType.full)] == ["s00", "s01"]
