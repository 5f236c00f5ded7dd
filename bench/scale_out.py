"""Scale-out benchmark: the synthetic source split into scopes, synced by 1, 2 and 4 Celery
worker processes (real Redis, real `permindex worker` processes, model-free embedder).

For each worker count: a fresh embedded index, N workers started and ready, one incremental
request per scope enqueued, and the wall time until every request is answered. Prints the
throughput per worker count and the speed-up over one worker; writes JSON.

    python3 bench/scale_out.py --size 200000 --scopes 8 --workers 1,2,4

The source is bench/synthetic_source.py's (documents a pure function of seed and number), cut
into ``--scopes`` equal ranges of numbers; it registers as source type ``bench-scoped-synthetic``
in the worker processes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synthetic_source import VERSION_BATCH, SourceState  # noqa: E402

from connectors.contract import EMPTY_INDEX, Capabilities, Connector, SyncContext  # noqa: E402
from connectors.events import (  # noqa: E402
    ChangeEvent,
    Checkpoint,
    CheckpointReached,
    DocumentUpserted,
    ListingEnd,
    ListingEvent,
    LiveId,
)
from connectors.registry import SourceSettings, SourceType  # noqa: E402


class ScopedBenchSettings(SourceSettings):
    type: str = "bench-scoped-synthetic"
    size: int = 200_000
    scopes: int = 8
    seed: int = 0


class ScopedBenchConnector(Connector):
    """bench/synthetic_source.py's documents, scope ``sNN`` holding the NN-th range of numbers."""

    capabilities = Capabilities(incremental=True, listing=True)

    def __init__(self, settings: ScopedBenchSettings, scope: str | None = None) -> None:
        self.settings = settings
        self.source_id = settings.id
        self.state = SourceState(size=settings.size, seed=settings.seed)
        self.scope = scope

    def work_scopes(self) -> list[str]:
        return [f"s{i:02d}" for i in range(self.settings.scopes)]

    def for_scope(self, scope: str) -> ScopedBenchConnector:
        return ScopedBenchConnector(self.settings, scope)

    def scope_of(self, external_id: str) -> str:
        number = int(external_id.removeprefix("doc-"))
        return f"s{number * self.settings.scopes // self.settings.size:02d}"

    def _numbers(self) -> range:
        scopes = [self.scope] if self.scope else self.work_scopes()
        first, last = int(scopes[0][1:]), int(scopes[-1][1:]) + 1
        size, count = self.settings.size, self.settings.scopes
        return range(first * size // count, last * size // count)

    def validate(self) -> None:
        return None

    def changes(
        self, checkpoint: Checkpoint | None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[ChangeEvent]:
        after = int(checkpoint.value.get("after", -1)) if checkpoint else -1
        numbers = [n for n in self._numbers() if n > after]
        for start in range(0, len(numbers), VERSION_BATCH):
            page = numbers[start : start + VERSION_BATCH]
            docs = [self.state.document(n) for n in page]
            docs = [d.model_copy(update={"source_id": self.source_id}) for d in docs]
            versions = (
                {} if context.full else context.indexed_versions([d.external_id for d in docs])
            )
            for doc in docs:
                if versions.get(doc.external_id) != doc.version:
                    yield DocumentUpserted(document=doc)
            yield CheckpointReached(checkpoint=Checkpoint(value={"after": page[-1]}))
        yield CheckpointReached(checkpoint=Checkpoint(value={"after": -1}))

    def list_live_ids(self) -> Iterator[ListingEvent]:
        for n in self._numbers():
            yield LiveId(external_id=f"doc-{n:07d}")
        yield ListingEnd(completed=True)


def _build(settings: ScopedBenchSettings, org: object, clock: object) -> Connector:
    return ScopedBenchConnector(settings)


SOURCE_TYPE = SourceType(name="bench-scoped-synthetic", settings=ScopedBenchSettings, build=_build)


def measure(workers: int, size: int, scopes: int, redis_port: int, db: int) -> dict[str, Any]:
    import redis

    from indexer.run_types import RunType
    from schedules.work import WorkItem
    from tests.scale_out.conftest import enqueuer_for
    from tests.scale_out.harness import Cluster, answered, wait_ready, wait_until

    redis.Redis(port=redis_port, db=db).flushdb()
    with tempfile.TemporaryDirectory(prefix="permindex-scale-out-") as tmp:
        cluster = Cluster(
            tmp=Path(tmp),
            redis_port=redis_port,
            redis_db=db,
            sources=[{"type": "bench-scoped-synthetic", "id": "synthetic", "size": size,
                      "scopes": scopes}],
            source_packages=("bench.scale_out",),
            lease_ttl_s=120.0,
            visibility_timeout_s=3600.0,
            write_batch=32,
        )  # fmt: skip
        cluster.write_config()
        try:
            procs = [cluster.start_worker(f"worker-{i}") for i in range(workers)]
            for proc in procs:
                wait_ready(proc)
            enqueuer = enqueuer_for(cluster)
            items = [
                WorkItem(source_id="synthetic", scope=f"s{i:02d}", run_type=RunType.incremental)
                for i in range(scopes)
            ]
            started = time.perf_counter()
            for item in items:
                enqueuer.enqueue(item)
            ids = {item.request_id for item in items}

            def done() -> bool:
                return all(answered(cluster.runs(), ids).values())

            wait_until(done, "every scope synced", timeout=24 * 3600, every=1.0)
            wall = time.perf_counter() - started
            runs = [run for runs in answered(cluster.runs(), ids).values() for run in runs]
            indexed, chunks = cluster.documents("synthetic")
        finally:
            cluster.stop_all()
    run_seconds = [
        (r.ended_at - r.started_at).total_seconds() for r in runs if r.ended_at is not None
    ]
    return {
        "workers": workers,
        "wall_s": round(wall, 2),
        "docs_per_s": round(size / wall, 1),
        "documents_indexed": len(indexed),
        "chunks": chunks,
        "created": sum(r.counts.created for r in runs),
        "scope_run_s_mean": round(sum(run_seconds) / len(run_seconds), 2),
        "statuses": sorted({r.status for r in runs}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--scopes", type=int, default=8)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale_out.json")
    args = parser.parse_args()

    from tests.scale_out.harness import free_port, redis_script

    port = int(os.environ.get("PERMINDEX_TEST_REDIS_PORT") or 0) or free_port()
    own_redis = "PERMINDEX_TEST_REDIS_PORT" not in os.environ
    if own_redis:
        redis_script("start", port)
    results = []
    try:
        for count in (int(w) for w in args.workers.split(",")):
            result = measure(count, args.size, args.scopes, port, db=15)
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        if own_redis:
            redis_script("stop", port)
    base = results[0]["wall_s"]
    for result in results:
        result["speedup"] = round(base / result["wall_s"], 2)
        print(f"{result['workers']} worker(s): {result['docs_per_s']} docs/s, "
              f"speed-up {result['speedup']}x ({result['wall_s']} s)")  # fmt: skip
    report = {
        "benchmark": "scale_out",
        "size": args.size,
        "scopes": args.scopes,
        "embedder": "hashing:64",
        "backend": "embedded",
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
