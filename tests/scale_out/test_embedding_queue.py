"""Embedding on its own queue: a sync worker sends chunk texts, an embedding worker process (the
GPU machine's role) returns vectors; without one, runs stop and keep their checkpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors import registry
from indexer.run_types import RunType
from schedules.work import WorkItem
from tests.scale_out.conftest import ClusterFactory, enqueuer_for
from tests.scale_out.harness import SCOPED_PACKAGE, Cluster, answered, wait_ready, wait_until
from tests.scale_out.scoped_source import external_id

pytestmark = pytest.mark.slow

SOURCE = {
    "type": "scoped-synthetic",
    "id": "zeta",
    "scopes": 1,
    "docs_per_scope": 6,
    "delay_s": 0.0,
    "checkpoint_every": 3,
}


@pytest.fixture(scope="module")
def cluster(make_cluster: ClusterFactory) -> Iterator[Cluster]:
    patch = pytest.MonkeyPatch()
    patch.setattr(registry, "_PACKAGES", (*registry._PACKAGES, SCOPED_PACKAGE))
    made = make_cluster(sources=[SOURCE], embedding_queue="permindex.embed-tests")
    yield made
    patch.undo()


def test_runs_wait_for_the_embedding_queue_then_index_its_vectors(cluster: Cluster) -> None:
    sync_worker = cluster.start_worker("sync-worker")
    wait_ready(sync_worker)
    item = WorkItem(source_id="zeta", scope="s00", run_type=RunType.incremental)
    assert enqueuer_for(cluster).enqueue(item)

    # No embedding worker yet: the run fails on the wait and leaves nothing half indexed.
    first = wait_until(
        lambda: answered(cluster.runs(), {item.request_id})[item.request_id], "a run"
    )
    assert first[0].status == "failed"
    assert "no embedding worker" in (first[0].message or "")
    assert cluster.documents("zeta") == ([], 0)

    embedder = cluster.start_embedding_worker("embedding-worker")
    wait_ready(embedder)
    again = WorkItem(source_id="zeta", scope="s00", run_type=RunType.incremental)
    assert enqueuer_for(cluster).enqueue(again)
    runs = wait_until(
        lambda: answered(cluster.runs(), {again.request_id})[again.request_id], "the second run"
    )
    assert runs[0].status == "succeeded"
    ids, chunks = cluster.documents("zeta")
    assert ids == [external_id("s00", n) for n in range(6)] and chunks == 6
    # The embedding was done by the embedding worker (Celery logs each task it runs).
    log = embedder.text()
    assert "Task permindex.embed[" in log and "succeeded" in log, log[-2000:]
    assert "permindex.embed" not in sync_worker.text().replace("permindex.embed-tests", "")
