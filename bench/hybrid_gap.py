"""Where OpenSearch's hybrid nDCG@10 differs from the embedded backend's, by swapping legs.

Both backends are built from the cached corpus vectors (one chunk per SciFact abstract, one
org-wide ACL, as ``permindex eval`` builds them) and every train query runs once per backend
with a cached query vector (embedded: ``hybrid_candidates``; OpenSearch: its two query bodies
in one ``_msearch``, highlighting off). The keyword and vector legs are then
fused with ``retrieval.fusion`` (min-max 0.5/0.5 and RRF) in every combination — embedded keyword
with OpenSearch vector and so on — and against an exact inner-product vector leg computed here,
at each candidate pool (100 is the searcher's default; ``permindex eval`` asks for top 100, so its
pool is 300). A difference that follows one leg names that leg; the vector leg's overlap with the
exact top k measures the k-NN engine's recall.

    python bench/hybrid_gap.py                 # JSON: bench/results/hybrid_gap.json

Indices: OpenSearch prefix ``--index-prefix`` (default ``bench-hybrid-gap``, kept for re-runs),
embedded file ``var/bench/hybrid-gap.sqlite``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(REPO))

from query_vectors import MODEL, query_vectors  # noqa: E402

from indexer.backends import open_stores  # noqa: E402
from indexer.backends.opensearch import OpenSearchIndex  # noqa: E402
from indexer.backends.opensearch.queries import (  # noqa: E402
    keyword_body,
    keyword_hits,
    unit_vector,
    vector_body,
    vector_hits,
)
from indexer.embedding import HashingEmbedder  # noqa: E402
from indexer.records import Hit, SearchFilters  # noqa: E402
from indexer.settings import EmbeddedSettings, IndexSettings, OpenSearchSettings  # noqa: E402
from retrieval.evaluation.beir import iter_corpus, load_beir_eval_set  # noqa: E402
from retrieval.evaluation.ingest import (  # noqa: E402
    VectorCache,
    content_fingerprint,
    ingest_beir,
)
from retrieval.evaluation.metrics import quality  # noqa: E402
from retrieval.fusion import fuse_minmax, fuse_rrf, merge_legs  # noqa: E402
from retrieval.settings import RetrievalSettings  # noqa: E402

SOURCE = "beir-scifact"
TENANT = "beir"
PRINCIPALS = frozenset({f"org:{TENANT}", "user:evaluator@beir.invalid"})
Legs = dict[str, tuple[list[Hit], list[Hit]]]


class _CachedOnly(HashingEmbedder):
    """Ingest must take every corpus vector from the cache: embedding here is an error."""

    def embed_documents(self, texts: Any) -> list[list[float]]:
        raise SystemExit("corpus vector missing from the cache; run permindex eval first")


def _open(backend: str, args: argparse.Namespace) -> Any:
    if backend == "opensearch":
        settings = IndexSettings(
            opensearch=OpenSearchSettings(url=args.url, index_prefix=args.index_prefix)
        )
    else:
        settings = IndexSettings(embedded=EmbeddedSettings(path=args.embedded_path))
    return open_stores(settings, 384)


def _legs(
    backend: str, args: argparse.Namespace, cases: list[Any], vectors: dict, pool: int
) -> Legs:
    stores = _open(backend, args)
    try:
        stats = ingest_beir(
            stores.index,
            _CachedOnly(384),
            args.beir,
            source_id=SOURCE,
            tenant=TENANT,
            model_name=MODEL,
            vector_cache=args.vectors,
        )
        if stats.embedded:
            Console().print(f"{backend}: wrote {stats.embedded} documents")
        out: Legs = {}
        for case in cases:
            vector = vectors[case.id].tolist()
            if isinstance(stores.index, OpenSearchIndex):
                out[case.id] = _opensearch_legs(stores.index, case.query, vector, pool)
            else:
                out[case.id] = stores.index.hybrid_candidates(
                    case.query, vector, PRINCIPALS, SearchFilters(), pool
                )
        return out
    finally:
        stores.close()


def _opensearch_legs(
    index: OpenSearchIndex, query: str, vector: list[float], pool: int
) -> tuple[list[Hit], list[Hit]]:
    """``hybrid_candidates``' two query bodies in one ``_msearch``, without highlighting (which
    changes no score, and at 100 hits a leg costs more than the search itself under load)."""
    keyword = keyword_body(query, PRINCIPALS, SearchFilters(), pool)
    keyword.pop("highlight")
    dense = vector_body(unit_vector(vector, index.dimension), PRINCIPALS, SearchFilters(), pool)
    header = {"index": index.names.chunks}
    responses = index.gw.client.msearch(body=[header, keyword, header, dense])["responses"]
    return keyword_hits(responses[0]), vector_hits(responses[1])


def _fts5_legs(
    args: argparse.Namespace, cases: list[Any], exact: dict[str, list[Hit]], pool: int
) -> Legs:
    """The embedded backend's legs without the backend: ``bench/keyword_quality.py``'s in-memory
    FTS5 table (the backend's tokenizer, bm25 weights and MATCH expression; it reproduces
    ``permindex eval``'s embedded keyword nDCG@10) and the exact inner product the backend
    computes. Minutes faster than 809 backend calls on a loaded machine."""
    import keyword_quality

    keyword_quality.DEPTH = pool
    ranking = keyword_quality._run_fts5(
        list(iter_corpus(args.beir)), {case.id: case.query for case in cases}
    )
    return {
        case.id: ([_hit(doc, score) for doc, score in ranking[case.id]], exact[case.id])
        for case in cases
    }


def _exact(
    args: argparse.Namespace, cases: list[Any], vectors: dict, pool: int
) -> dict[str, list[Hit]]:
    documents = list(iter_corpus(args.beir))
    cache = VectorCache(args.vectors)
    rows = [cache.get(content_fingerprint(d, MODEL)) for d in documents]
    matrix = np.stack([r for r in rows if r is not None])
    assert matrix.shape[0] == len(documents)
    out: dict[str, list[Hit]] = {}
    for case in cases:
        scores = matrix @ vectors[case.id]
        best = np.argsort(-scores, kind="stable")[:pool]
        out[case.id] = [_hit(documents[i].id, float(scores[i])) for i in best]
    return out


def _hit(external_id: str, score: float) -> Hit:
    return Hit(
        chunk_id=f"{SOURCE}:{external_id}#0",
        doc_id=f"{SOURCE}:{external_id}",
        source_id=SOURCE,
        external_id=external_id,
        chunk_index=0,
        text="",
        title="",
        doc_type="abstract",
        content_type="text/plain",
        updated_at=datetime(2020, 1, 1, tzinfo=UTC),
        acl=frozenset({f"org:{TENANT}"}),
        score=score,
    )


def _rank(keyword: list[Hit], vector: list[Hit], method: str) -> list[str]:
    settings = RetrievalSettings()
    merged = merge_legs(keyword, vector)
    fused = (
        fuse_minmax(merged, settings.keyword_weight)
        if method == "minmax"
        else fuse_rrf(merged, settings.rrf_k)
    )
    return [c.hit.external_id for c in fused][:100]


def _paired(
    qrels: dict[str, dict[str, int]], ours: dict[str, list[str]], theirs: dict[str, list[str]]
) -> dict[str, float]:
    """Per-query nDCG@10 differences: how many queries each side wins, and a paired bootstrap
    95% interval of the mean difference (10,000 resamples, fixed seed)."""
    a, b = quality(qrels, ours)[1], quality(qrels, theirs)[1]
    diffs = np.asarray([a[q]["ndcg@10"] - b[q]["ndcg@10"] for q in a])
    rng = np.random.default_rng(14)
    means = diffs[rng.integers(0, len(diffs), (10_000, len(diffs)))].mean(axis=1)
    return {
        "mean": float(diffs.mean()),
        "better": float((diffs > 1e-12).sum()),
        "worse": float((diffs < -1e-12).sum()),
        "equal": float((np.abs(diffs) <= 1e-12).sum()),
        "ci95_low": float(np.percentile(means, 2.5)),
        "ci95_high": float(np.percentile(means, 97.5)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--beir", type=Path, default=Path("../shared/datasets/scifact"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--url", default="http://127.0.0.1:9200")
    parser.add_argument("--index-prefix", default="bench-hybrid-gap")
    parser.add_argument("--embedded-path", type=Path, default=Path("var/bench/hybrid-gap.sqlite"))
    parser.add_argument("--vectors", type=Path, default=Path("var/eval/kq/scifact.vectors.npz"))
    parser.add_argument("--pools", default="100,300")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", type=Path, default=Path("bench/results/hybrid_gap.json"))
    parser.add_argument("--legs-dir", type=Path, default=Path("var/bench"))
    parser.add_argument(
        "--embedded-legs",
        choices=["backend", "fts5"],
        default="backend",
        help="fts5: the embedded legs from an in-memory replica (see _fts5_legs).",
    )
    args = parser.parse_args(argv)
    console = Console()
    evalset = load_beir_eval_set(args.beir, args.split, limit=args.limit)
    qrels = {case.id: dict(case.relevant) for case in evalset.cases}
    vectors, seconds = query_vectors({case.id: case.query for case in evalset.cases})
    console.print(f"{len(vectors)} query vectors ({seconds:.0f} s embedding the uncached)")

    report: dict[str, Any] = {}
    for pool in [int(p) for p in args.pools.split(",")]:
        started = time.perf_counter()
        exact = _exact(args, evalset.cases, vectors, pool)
        if args.embedded_legs == "fts5":
            legs = {
                "embedded": _fts5_legs(args, evalset.cases, exact, pool),
                "opensearch": _legs("opensearch", args, evalset.cases, vectors, pool),
            }
        else:
            legs = {
                b: _legs(b, args, evalset.cases, vectors, pool) for b in ("embedded", "opensearch")
            }
        console.print(f"pool {pool}: legs in {time.perf_counter() - started:.0f} s")
        args.legs_dir.mkdir(parents=True, exist_ok=True)
        (args.legs_dir / f"hybrid-gap-legs-{pool}.json").write_text(
            json.dumps(
                {
                    b: {
                        q: [[(h.external_id, h.score) for h in leg] for leg in pair]
                        for q, pair in per_query.items()
                    }
                    for b, per_query in legs.items()
                }
            )
        )
        keyword = {b: {q: legs[b][q][0] for q in legs[b]} for b in legs}
        vector = {b: {q: legs[b][q][1] for q in legs[b]} for b in legs}
        vector["exact"] = exact
        rows: dict[str, dict[str, float]] = {}
        paired = _paired(
            qrels,
            {q: _rank(keyword["opensearch"][q], vector["opensearch"][q], "minmax") for q in exact},
            {q: _rank(keyword["embedded"][q], vector["embedded"][q], "minmax") for q in exact},
        )
        for kb in ("embedded", "opensearch"):
            rows[f"keyword {kb}"] = quality(
                qrels, {q: [h.external_id for h in hits] for q, hits in keyword[kb].items()}
            )[0]
        for vb in vector:
            rows[f"vector {vb}"] = quality(
                qrels, {q: [h.external_id for h in hits] for q, hits in vector[vb].items()}
            )[0]
        for kb in ("embedded", "opensearch"):
            for vb in vector:
                for method in ("minmax", "rrf"):
                    ranked = {q: _rank(keyword[kb][q], vector[vb][q], method) for q in keyword[kb]}
                    rows[f"{method}: keyword {kb} + vector {vb}"] = quality(qrels, ranked)[0]
        recall = {
            vb: float(
                np.mean(
                    [
                        len(
                            {h.external_id for h in vector[vb][q]}
                            & {h.external_id for h in exact[q]}
                        )
                        / max(1, len(exact[q]))
                        for q in exact
                    ]
                )
            )
            for vb in ("embedded", "opensearch")
        }
        report[str(pool)] = {
            "metrics": rows,
            "vector_overlap_with_exact": recall,
            "minmax_opensearch_minus_embedded": paired,
        }
        table = Table(title=f"{evalset.name}, pool {pool} ({len(evalset.cases)} queries)")
        for column in ("legs", "nDCG@10", "recall@100", "MRR"):
            table.add_column(column, justify="left" if column == "legs" else "right")
        for name, m in rows.items():
            table.add_row(name, f"{m['ndcg@10']:.4f}", f"{m['recall@100']:.4f}", f"{m['mrr']:.4f}")
        console.print(table)
        console.print(f"hybrid min-max, OpenSearch minus embedded, per query: {paired}")
        console.print(
            "vector leg overlap with the exact top k: "
            + ", ".join(f"{b} {r:.4f}" for b, r in recall.items())
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "command": "python bench/hybrid_gap.py " + " ".join(argv or sys.argv[1:]),
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "dataset": evalset.name,
                "queries": len(evalset.cases),
                "pools": report,
            },
            indent=2,
        )
    )
    console.print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
