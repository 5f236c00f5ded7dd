"""Embedded hybrid candidates: both legs at once on two connections against one after the other.

The same index file, the same queries and cached query vectors; each query runs through
``hybrid_candidates`` (the legs at once, the shipped path) and through both legs inside one read
snapshot (the path before, still taken when a write lands between the legs' snapshots), the
order alternating query by query, and the two answers must be equal. Pool 100 (the searcher's
default), no highlights (the searcher asks for them for the final page only).

    python bench/query.py --backends embedded      # builds var/bench/query-large.sqlite once
    python bench/hybrid_legs.py                    # JSON: bench/results/hybrid_legs.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(REPO))

from query import CALLER_PRINCIPALS  # noqa: E402
from query_vectors import DEFAULT_CACHE, query_vectors  # noqa: E402

from indexer.backends.embedded import open_embedded  # noqa: E402
from indexer.backends.embedded.index import EmbeddedIndex  # noqa: E402
from indexer.records import Hit, SearchFilters  # noqa: E402
from indexer.settings import EmbeddedSettings  # noqa: E402
from retrieval.evaluation.beir import load_queries  # noqa: E402

Legs = tuple[list[Hit], list[Hit]]
FILTERS = SearchFilters()


def _paths(index: EmbeddedIndex, pool: int) -> dict[str, Callable[[str, list[float]], Legs]]:
    def at_once(text: str, vector: list[float]) -> Legs:
        return index.hybrid_candidates(
            text, vector, CALLER_PRINCIPALS, FILTERS, pool, highlight=False
        )

    def one_after_the_other(text: str, vector: list[float]) -> Legs:
        return index.legs_in_one_snapshot(
            text, vector, CALLER_PRINCIPALS, FILTERS, pool, highlight=False
        )

    return {"at_once": at_once, "one_after_the_other": one_after_the_other}


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=Path("var/bench/query-large.sqlite"))
    parser.add_argument("--dataset", type=Path, default=Path("../shared/datasets/scifact"))
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--pool", type=int, default=100)
    parser.add_argument("--vector-cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--json", type=Path, default=Path("bench/results/hybrid_legs.json"))
    args = parser.parse_args(argv)
    if not args.index.exists():
        parser.error(f"{args.index} does not exist: build it with bench/query.py first")

    queries = dict(list(load_queries(args.dataset, "train").items())[: args.queries])
    vectors, _ = query_vectors(queries, args.vector_cache)
    stores = open_embedded(EmbeddedSettings(path=args.index), len(next(iter(vectors.values()))))
    index = stores.index
    assert isinstance(index, EmbeddedIndex)
    paths = _paths(index, args.pool)
    cases = [(text, [float(x) for x in vectors[qid]]) for qid, text in queries.items()]
    for text, vector in cases[:5]:  # warm the vector matrix, the term counts, the page cache
        for path in paths.values():
            path(text, vector)
    times: dict[str, list[float]] = {name: [] for name in paths}
    for i, (text, vector) in enumerate(cases):
        names = list(paths) if i % 2 == 0 else list(reversed(paths))
        answers = {}
        for name in names:
            started = time.perf_counter()
            answers[name] = paths[name](text, vector)
            times[name].append((time.perf_counter() - started) * 1000)
        assert answers["at_once"] == answers["one_after_the_other"], text
    stores.close()

    result = {
        "command": " ".join(["python", "bench/hybrid_legs.py", *(argv or sys.argv[1:])]),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "index": str(args.index),
        "queries": len(cases),
        "pool": args.pool,
        "results": {name: _summary(values) for name, values in times.items()},
    }
    before, after = result["results"]["one_after_the_other"], result["results"]["at_once"]
    ratios = {q: round(before[f"{q}_ms"] / after[f"{q}_ms"], 2) for q in ("p50", "p95")}
    result["ratio_one_after_the_other_over_at_once"] = ratios
    print(
        f"hybrid candidates, {len(cases)} queries, pool {args.pool}, same answers on every query:"
        f" one after the other p50 / p95 {before['p50_ms']} / {before['p95_ms']} ms,"
        f" at once {after['p50_ms']} / {after['p95_ms']} ms; ratio p50 {ratios['p50']},"
        f" p95 {ratios['p95']}"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
