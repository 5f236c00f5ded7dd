"""Scope runs spread over Celery workers: real worker and scheduler processes (`permindex worker`,
`permindex scheduler`), a real Redis, one embedded index file shared by all of them.

The tests share one cluster (each process imports the whole CLI, seconds of CPU) and run in
order: every scope of two sources done exactly once by two workers; a worker SIGKILLed mid-scope;
Redis restarted mid-run; the leader scheduler SIGKILLed. Each source belongs to one test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from connectors import registry
from indexer import checkpoints
from indexer.run_types import RunType
from indexer.state_store import RunRecord, scope_key
from schedules.work import WorkItem
from tests.scale_out.conftest import ClusterFactory, enqueuer_for
from tests.scale_out.harness import (
    SCOPED_PACKAGE,
    Cluster,
    Proc,
    answered,
    iter_scopes,
    redis_script,
    wait_ready,
    wait_until,
)
from tests.scale_out.scoped_source import external_id

pytestmark = pytest.mark.slow

LEADER_TTL_S = 4.0


def source(source_id: str, scopes: int, docs: int, delay_s: float) -> dict[str, Any]:
    return {
        "type": "scoped-synthetic",
        "id": source_id,
        "scopes": scopes,
        "docs_per_scope": docs,
        "delay_s": delay_s,
        "checkpoint_every": 4,
    }


SOURCES = {
    "alpha": source("alpha", 3, 6, 0.05),
    "beta": source("beta", 3, 6, 0.05),
    # Slow enough that a scope stays half written for about 15 s: each poll opens the shared
    # index while the workers write to it, which can take seconds once the cluster is busy.
    "gamma": source("gamma", 2, 24, 1.0),
    "delta": source("delta", 3, 12, 0.4),
    "epsilon": source("epsilon", 2, 3, 0.0),
}
NEVER = {"incremental": None, "full": None, "permissions": None, "groups": None, "prune": None}
# Only the leader test's source is scheduled; the others are enqueued by the tests.
SCHEDULES = {"default": NEVER, "sources": {"epsilon": {"incremental": "2s"}}}


@pytest.fixture(scope="module")
def cluster(make_cluster: ClusterFactory) -> Iterator[Cluster]:
    # This process reads the same configuration (status): its registry needs the test type too.
    patch = pytest.MonkeyPatch()
    patch.setattr(registry, "_PACKAGES", (*registry._PACKAGES, SCOPED_PACKAGE))
    made = make_cluster(
        sources=list(SOURCES.values()), schedules=SCHEDULES, leader_ttl_s=LEADER_TTL_S
    )
    # All at once: their start-up (imports) overlaps.
    procs = [made.start_worker("worker-1"), made.start_worker("worker-2")]
    procs += [made.start_scheduler("scheduler-1"), made.start_scheduler("scheduler-2")]
    for proc in procs:
        wait_ready(proc, " ready." if proc.name.startswith("worker") else "scheduled ")
    yield made
    patch.undo()


def workers(cluster: Cluster) -> list[Proc]:
    return [p for p in cluster.procs if p.name.startswith("worker") and p.popen.poll() is None]


def taken(proc: Proc, source_id: str) -> list[dict[str, Any]]:
    return [
        line
        for line in proc.lines()
        if line.get("message") == "request taken" and line.get("source") == source_id
    ]


def enqueue_source(cluster: Cluster, source_id: str) -> dict[str, WorkItem]:
    enqueuer = enqueuer_for(cluster)
    items: dict[str, WorkItem] = {}
    for scope in iter_scopes(SOURCES[source_id]):
        item = WorkItem(source_id=source_id, scope=scope, run_type=RunType.incremental)
        assert enqueuer.enqueue(item)
        items[item.request_id] = item
    return items


def wait_answered(cluster: Cluster, items: dict[str, WorkItem]) -> dict[str, list[RunRecord]]:
    def done() -> dict[str, list[RunRecord]] | None:
        found = answered(cluster.runs(), set(items))
        return found if all(found.values()) else None

    return wait_until(done, "every request answered", timeout=150)


def assert_each_request_answered_once(
    items: dict[str, WorkItem], found: dict[str, list[RunRecord]]
) -> None:
    assert all(len(runs) == 1 for runs in found.values()), "a request ran twice"
    assert {(i.source_id, i.scope) for i in items.values()} == {
        (runs[0].source_id, runs[0].scope) for runs in found.values()
    }
    assert all(runs[0].status == "succeeded" for runs in found.values())


def assert_every_document_once(cluster: Cluster, source_id: str) -> None:
    spec = SOURCES[source_id]
    ids, chunks = cluster.documents(source_id)
    expected = sorted(
        external_id(scope, n) for scope in iter_scopes(spec) for n in range(spec["docs_per_scope"])
    )
    assert ids == expected  # nothing lost, nothing extra
    assert chunks == len(ids)  # one chunk each: no chunk written twice


def half_written(cluster: Cluster, source_id: str) -> str | None:
    """A scope of ``source_id`` that a worker is in the middle of: taken by a live worker, and
    its checkpoint (saved only after the documents before it are durable) part-way through."""
    size = SOURCES[source_id]["docs_per_scope"]
    scopes = {str(line["scope"]) for proc in workers(cluster) for line in taken(proc, source_id)}
    if not scopes or not cluster.index_path.exists():
        return None
    stores = cluster.stores()
    try:
        for scope in sorted(scopes):
            checkpoint = stores.state.get_checkpoint(scope_key(source_id, scope))
            value = changes.value if (changes := checkpoints.split(checkpoint)[0]) else {}
            if value.get("scope") == scope and 3 <= int(value.get("after", -1)) <= size - 5:
                return scope
    finally:
        stores.close()
    return None


def test_two_workers_finish_every_scope_of_two_sources_exactly_once(cluster: Cluster) -> None:
    items = {**enqueue_source(cluster, "alpha"), **enqueue_source(cluster, "beta")}

    found = wait_answered(cluster, items)

    assert_each_request_answered_once(items, found)
    assert_every_document_once(cluster, "alpha")
    assert_every_document_once(cluster, "beta")
    # Both processes took work: the scopes of one source were spread over them.
    counts = [len(taken(p, "alpha")) + len(taken(p, "beta")) for p in workers(cluster)]
    assert len(counts) == 2 and all(counts), counts
    # What `permindex status` reports: each scope's last run, and the scheduled source's next run.
    report = cluster.status()
    alpha = next(s for s in report.sources if s.source_id == "alpha")
    assert [(s.scope, s.last_status) for s in alpha.scopes] == [
        (scope, "succeeded") for scope in iter_scopes(SOURCES["alpha"])
    ]
    assert report.queue_depth is not None and report.queue_error is None
    next_runs = wait_until(lambda: cluster.status_of("epsilon").next_runs, "epsilon's next run")
    assert set(next_runs) == {"incremental"}


def test_a_worker_killed_mid_scope_is_redelivered_and_converges(cluster: Cluster) -> None:
    items = enqueue_source(cluster, "gamma")
    scope = wait_until(lambda: half_written(cluster, "gamma"), "a scope half written", every=0.1)
    victim = next(
        p for p in workers(cluster) if any(t["scope"] == scope for t in taken(p, "gamma"))
    )
    victim.kill()
    # Its replacement starts now, for the tests that follow; the survivor redelivers.
    cluster.start_worker("worker-3")

    found = wait_answered(cluster, items)

    assert_each_request_answered_once(items, found)
    assert_every_document_once(cluster, "gamma")
    runs = [r for r in cluster.runs() if r.source_id == "gamma" and r.scope == scope]
    # The killed run is on record, and the redelivered one resumed from its checkpoint.
    assert any(r.status == "interrupted" for r in runs), [r.status for r in runs]
    resumed = next(r for r in runs if r.status == "succeeded")
    assert resumed.counts.created < SOURCES["gamma"]["docs_per_scope"]


def test_redis_restarted_mid_run_loses_nothing(cluster: Cluster) -> None:
    for proc in workers(cluster):
        wait_ready(proc)
    items = enqueue_source(cluster, "delta")  # three scopes, two workers: one waits in Redis

    def mid_run() -> bool:
        started = sum(len(taken(p, "delta")) for p in workers(cluster))
        return started >= 1 and not any(answered(cluster.runs(), set(items)).values())

    wait_until(mid_run, "a run of delta under way", every=0.1)

    redis_script("stop", cluster.redis_port)
    redis_script("start", cluster.redis_port)

    found = wait_answered(cluster, items)

    assert_each_request_answered_once(items, found)
    assert_every_document_once(cluster, "delta")


def leaders(cluster: Cluster) -> list[Proc]:
    return [
        p
        for p in cluster.procs
        if p.name.startswith("scheduler")
        and p.popen.poll() is None
        and any(line.get("message") == "became scheduler leader" for line in p.lines())
    ]


def enqueued_by(proc: Proc) -> set[str]:
    return {
        str(line["request"])
        for line in proc.lines()
        if line.get("message") == "enqueued" and line.get("source") == "epsilon"
    }


def test_standby_scheduler_takes_over_when_the_leader_dies(cluster: Cluster) -> None:
    leader = wait_until(lambda: leaders(cluster), "a scheduler leader")
    assert len(leader) == 1, "two schedulers lead at once"
    # The leader's requests are being answered by the workers.
    wait_until(
        lambda: any(answered(cluster.runs(), enqueued_by(leader[0])).values()),
        "a scheduled request answered",
    )

    leader[0].kill()
    killed_at = time.monotonic()
    successor = wait_until(lambda: leaders(cluster), "the standby to take over", every=0.1)
    takeover_s = time.monotonic() - killed_at

    # Within one lease TTL of the leader's last renewal, plus the standby's poll (TTL / 4)
    # and a loaded machine's slack; the measured figure is in the test's output.
    print(f"standby took over {takeover_s:.1f} s after the leader was killed")
    assert takeover_s < 3 * LEADER_TTL_S
    assert successor[0] is not leader[0]
    wait_until(
        lambda: any(answered(cluster.runs(), enqueued_by(successor[0])).values()),
        "a request of the new leader answered",
    )
