"""Hybrid on OpenSearch: both legs in one ``_msearch`` fused by retrieval, or the neural-search
plugin's ``hybrid`` query fused on the node, side by side on SciFact train.

Both paths get the same query vector (embedded once, up front, so embedding is in neither time),
the same ACL filter, the same candidate pool and min-max weights; the two alternate query by
query so a change of load on the shared machine hits both alike. Times are the backend call plus
fusion (``hybrid_candidates`` + ``merge_legs`` + ``fuse_minmax`` against one search through a
min-max normalization pipeline). The node-side path lives here, not in the backend: it lost this
comparison (docs/benchmarks.md) and was deleted from ``indexer.backends.opensearch``.

The index is the one ``permindex eval --backend URL`` builds (one chunk per abstract)::

    permindex eval --beir ../shared/datasets/scifact --split train \\
        --backend http://127.0.0.1:9200 --index-prefix permindex-beir-scifact --mode keyword
    python bench/hybrid_query.py --index-prefix permindex-beir-scifact
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(REPO))

from indexer.backends import open_stores  # noqa: E402
from indexer.backends.opensearch import OpenSearchIndex  # noqa: E402
from indexer.backends.opensearch.client import Gateway  # noqa: E402
from indexer.backends.opensearch.queries import (  # noqa: E402
    SOURCE_FIELDS,
    keyword_body,
    keyword_hits,
    knn_clause,
    unit_vector,
)
from indexer.embedding import make_embedder  # noqa: E402
from indexer.records import Hit, SearchFilters  # noqa: E402
from indexer.settings import EmbeddingSettings, IndexSettings, OpenSearchSettings  # noqa: E402
from retrieval.evaluation.beir import load_beir_eval_set  # noqa: E402
from retrieval.evaluation.metrics import latency_summary, quality  # noqa: E402
from retrieval.fusion import fuse_minmax, merge_legs  # noqa: E402

PRINCIPALS = frozenset({"org:beir", "user:evaluator@beir.invalid"})
PIPELINE = "bench-hybrid-query-minmax"


def minmax_pipeline(keyword_weight: float) -> dict[str, Any]:
    """A search pipeline: min-max normalisation and a weighted arithmetic mean of (keyword,
    vector) scores."""
    return {
        "phase_results_processors": [
            {
                "normalization-processor": {
                    "normalization": {"technique": "min_max"},
                    "combination": {
                        "technique": "arithmetic_mean",
                        "parameters": {"weights": [keyword_weight, 1.0 - keyword_weight]},
                    },
                }
            }
        ]
    }


def ensure_pipeline(gw: Gateway, keyword_weight: float) -> None:
    gw.client.transport.perform_request(
        "PUT", f"/_search/pipeline/{PIPELINE}", body=minmax_pipeline(keyword_weight)
    )


def node_hybrid(
    index: OpenSearchIndex, query: str, vector: list[float], filters: SearchFilters, k: int
) -> list[Hit]:
    """The neural-search ``hybrid`` query: both legs under one ACL filter, fused on the node."""
    keyword = keyword_body(query, PRINCIPALS, filters, k)
    unit = unit_vector(vector, index.dimension)
    body = {
        "size": k,
        "_source": SOURCE_FIELDS,
        "query": {
            "hybrid": {"queries": [keyword["query"], knn_clause(unit, PRINCIPALS, filters, k)]}
        },
        "highlight": keyword["highlight"],
    }
    response = index.gw.client.search(
        index=index.names.chunks, body=body, params={"search_pipeline": PIPELINE}
    )
    return keyword_hits(response)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beir", type=Path, default=Path("../shared/datasets/scifact"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--url", default="http://127.0.0.1:9200")
    parser.add_argument("--index-prefix", default="permindex-beir-scifact")
    parser.add_argument("--pool", type=int, default=100)
    parser.add_argument("--keyword-weight", type=float, default=0.5)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", type=Path, default=Path("bench/results/hybrid_query.json"))
    args = parser.parse_args(argv)
    console = Console()

    evalset = load_beir_eval_set(args.beir, args.split, limit=args.limit)
    qrels = {case.id: dict(case.relevant) for case in evalset.cases}
    embedder = make_embedder(EmbeddingSettings())
    settings = OpenSearchSettings(url=args.url, index_prefix=args.index_prefix)
    stores = open_stores(IndexSettings(opensearch=settings), embedder.dimension)
    index = stores.index
    assert isinstance(index, OpenSearchIndex)
    ensure_pipeline(index.gw, args.keyword_weight)
    everything = SearchFilters()
    started = time.perf_counter()
    vectors = [embedder.embed_query(case.query) for case in evalset.cases]
    console.print(f"{len(vectors)} query vectors in {time.perf_counter() - started:.1f} s")

    rankings: dict[str, dict[str, list[str]]] = {"msearch": {}, "hybrid query": {}}
    times: dict[str, list[float]] = {"msearch": [], "hybrid query": []}
    try:
        for i, (case, vector) in enumerate(zip(evalset.cases, vectors, strict=True)):
            order = ["msearch", "hybrid query"] if i % 2 == 0 else ["hybrid query", "msearch"]
            for path in order:
                t = time.perf_counter()
                if path == "msearch":
                    keyword, dense = index.hybrid_candidates(
                        case.query, vector, PRINCIPALS, everything, args.pool
                    )
                    fused = fuse_minmax(merge_legs(keyword, dense), args.keyword_weight)
                    ids = [c.hit.external_id for c in fused]
                else:
                    hits = node_hybrid(index, case.query, vector, everything, args.pool)
                    ids = [h.external_id for h in hits]
                times[path].append((time.perf_counter() - t) * 1000.0)
                rankings[path][case.id] = ids
    finally:
        index.gw.client.transport.perform_request("DELETE", f"/_search/pipeline/{PIPELINE}")
        stores.close()

    results = {}
    for path in rankings:
        metrics, _ = quality(qrels, rankings[path])
        results[path] = {"metrics": metrics, "latency_ms": latency_summary(times[path])}
    table = Table(title=f"{evalset.name}: hybrid on OpenSearch ({len(evalset.cases)} queries)")
    for column in ("path", "nDCG@10", "recall@100", "MRR", "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for path, result in results.items():
        m, lat = result["metrics"], result["latency_ms"]
        table.add_row(
            path,
            f"{m['ndcg@10']:.4f}",
            f"{m['recall@100']:.4f}",
            f"{m['mrr']:.4f}",
            f"{lat['p50']:.1f}",
            f"{lat['p95']:.1f}",
        )
    console.print(table)
    ratio = results["hybrid query"]["latency_ms"]["p50"] / results["msearch"]["latency_ms"]["p50"]
    console.print(f"p50 hybrid query / msearch: {ratio:.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "dataset": evalset.name,
                "queries": len(evalset.cases),
                "pool": args.pool,
                "keyword_weight": args.keyword_weight,
                "paths": results,
                "p50_ratio_hybrid_query_over_msearch": ratio,
            },
            indent=2,
        )
    )
    console.print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
