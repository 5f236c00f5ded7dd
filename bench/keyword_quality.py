"""Why OpenSearch's keyword leg ranks SciFact differently from the embedded one: an ablation.

Keyword ranking needs no embeddings, so this indexes the BEIR corpus as text only (one document
per abstract, as ``permindex eval`` does) into scratch OpenSearch indices and an in-memory FTS5
table built like the embedded backend's, then scores every train query under each variant with
the evaluation harness's metrics (ir-measures nDCG@10, recall@100, MRR). Each variant changes one
thing against its neighbour, so the differences name the causes:

- ``fts5``: the embedded backend's analysis and ranking (porter unicode61, bm25 title weight 2,
  quoted terms OR-ed, duplicates dropped);
- ``os-*``: OpenSearch with a tokenizer (``standard`` or a ``unicode61``-like pattern), a query
  shape (``bool`` of two ``match`` clauses, one per field, as the backend had; ``combined_fields``,
  BM25F over title^2 + body as FTS5 scores a row; or one ``match`` on a field holding title twice
  and the body), an IDF (Lucene's ``log(1 + (N - n + 0.5) / (n + 0.5))``, or FTS5's
  ``log((N - n + 0.5) / (n + 0.5))`` through a scripted similarity), and query-term handling
  (as typed, duplicates dropped, English stop words dropped);
- ``backend``: the production query and mapping of ``indexer.backends.opensearch`` as they are.

    python bench/keyword_quality.py                 # OpenSearch at 127.0.0.1:9200
    python bench/keyword_quality.py --json bench/results/keyword_quality.json

Scratch indices are named ``<prefix>-<analysis>`` (default prefix ``bench-keyword-quality``) and
deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from opensearchpy import OpenSearch, helpers
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(REPO))

from indexer.backends.embedded.fts_query import fts_match_expression  # noqa: E402
from indexer.backends.embedded.index import BODY_WEIGHT, TITLE_WEIGHT  # noqa: E402
from indexer.backends.opensearch.mappings import chunks_body  # noqa: E402
from indexer.backends.opensearch.queries import keyword_body  # noqa: E402
from indexer.embedding import make_embedder  # noqa: E402
from indexer.records import Hit, SearchFilters  # noqa: E402
from indexer.settings import EmbeddingSettings, OpenSearchSettings  # noqa: E402
from retrieval.evaluation.beir import BeirDocument, iter_corpus, load_beir_eval_set  # noqa: E402
from retrieval.evaluation.ingest import CORPUS_TIME, VectorCache, content_fingerprint  # noqa: E402
from retrieval.evaluation.metrics import quality  # noqa: E402
from retrieval.fusion import fuse_minmax, fuse_rrf, merge_legs  # noqa: E402
from retrieval.settings import RetrievalSettings  # noqa: E402

ACL = "org:bench"
DEPTH = 100
MODEL = "all-MiniLM-L6-v2"
FTS5 = "fts5 (embedded backend)"
BACKEND = "backend (production query + mapping)"
# Lucene's English stop words (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, the `_english_` list).
_ENGLISH_STOP = "a an and are as at be but by for if in into is it no not of on or such that the"
ENGLISH_STOP = frozenset(
    f"{_ENGLISH_STOP} their then there these they this to was will with".split()
)
_TERM = re.compile(r"[^\W_]+", re.UNICODE)
# FTS5's bm25(): IDF clamped at 1e-6 for terms in half the rows or more, k1 1.2, b 0.75.
FTS5_SIMILARITY = {
    "type": "scripted",
    "script": {
        "source": (
            "double n = term.docFreq; double N = field.docCount;"
            " double idf = Math.log((N - n + 0.5) / (n + 0.5)); if (idf <= 0) { idf = 0.000001; }"
            " double tf = doc.freq; double avgdl = field.sumTotalTermFreq / N;"
            " double norm = 1.2 * (0.25 + 0.75 * doc.length / avgdl);"
            " return query.boost * idf * tf * 2.2 / (tf + norm);"
        )
    },
}
ANALYSES: dict[str, dict[str, Any]] = {
    # The backend's "porter" analyzer as it was: standard (UAX#29) tokenizer.
    "standard": {"type": "custom", "tokenizer": "standard",
                 "filter": ["lowercase", "asciifolding", "porter_stem"]},
    # FTS5's unicode61: every character that is not a letter or a digit separates tokens.
    "unicode61": {"type": "custom", "tokenizer": "unicode61",
                  "filter": ["lowercase", "asciifolding", "porter_stem"]},
}  # fmt: skip
UNICODE61_TOKENIZER = {"type": "pattern", "pattern": r"[^\p{L}\p{N}]+"}


@dataclass(frozen=True)
class Variant:
    name: str
    analysis: str  # key of ANALYSES, or "backend"
    query: Callable[[str], dict[str, Any]]
    terms: str = "typed"  # typed | unique | unique-nostop


def _terms(text: str, mode: str) -> str:
    if mode == "typed":
        return text
    words = list(dict.fromkeys(_TERM.findall(text.lower())))[:64]
    if mode == "unique-nostop":
        words = [w for w in words if w not in ENGLISH_STOP]
    return " ".join(words)


def _bool_two_fields(text: str) -> dict[str, Any]:
    return {
        "bool": {
            "should": [
                {"match": {"title": {"query": text, "boost": TITLE_WEIGHT}}},
                {"match": {"body": {"query": text}}},
            ]
        }
    }


def _combined(text: str) -> dict[str, Any]:
    fields = [f"title^{TITLE_WEIGHT:g}", f"body^{BODY_WEIGHT:g}"]
    return {"combined_fields": {"query": text, "fields": fields}}


def _all(text: str) -> dict[str, Any]:
    return {"match": {"all": {"query": text}}}


def _all_fts5(text: str) -> dict[str, Any]:
    return {"match": {"all_fts5": {"query": text}}}


VARIANTS = [
    Variant("os standard, bool(title^2, body)", "standard", _bool_two_fields),
    Variant("os unicode61, bool(title^2, body)", "unicode61", _bool_two_fields),
    Variant("os unicode61, bool, unique terms", "unicode61", _bool_two_fields, "unique"),
    Variant("os standard, combined_fields", "standard", _combined),
    Variant("os unicode61, combined_fields", "unicode61", _combined),
    Variant("os unicode61, combined_fields, unique", "unicode61", _combined, "unique"),
    Variant("os unicode61, combined_fields, no stop", "unicode61", _combined, "unique-nostop"),
    Variant("os unicode61, one field, Lucene IDF", "unicode61", _all, "unique"),
    Variant("os unicode61, one field, FTS5 IDF", "unicode61", _all_fts5, "unique"),
    Variant("os unicode61, bool, no stop", "unicode61", _bool_two_fields, "unique-nostop"),
]


def _scratch_body(analyzer: dict[str, Any]) -> dict[str, Any]:
    text = {"type": "text", "analyzer": "kq"}
    return {
        "settings": {
            "index": {
                "number_of_shards": 1,
                "number_of_replicas": 0,
                "similarity": {"fts5": FTS5_SIMILARITY},
                "analysis": {
                    "analyzer": {"kq": analyzer},
                    "tokenizer": {"unicode61": UNICODE61_TOKENIZER},
                },
            }
        },
        "mappings": {
            "properties": {
                "external_id": {"type": "keyword"},
                "acl": {"type": "keyword"},
                "title": text,
                "body": text,
                "all": text,
                "all_fts5": {**text, "similarity": "fts5"},
            }
        },
    }


def _backend_body() -> dict[str, Any]:
    body = chunks_body(OpenSearchSettings(), dimension=4)
    properties = body["mappings"]["properties"]
    keep = {"external_id", "acl", "title", "body"}
    body["mappings"]["properties"] = {k: v for k, v in properties.items() if k in keep}
    body["mappings"].pop("_meta", None)
    body["settings"]["index"].pop("knn", None)
    return body


def _actions(index: str, documents: Sequence[BeirDocument]) -> Iterator[dict[str, Any]]:
    for d in documents:
        text = d.text or d.title
        yield {
            "_index": index,
            "_id": d.id,
            "_source": {
                "external_id": d.id,
                "acl": [ACL],
                "title": d.title,
                "body": text,
                "all": [d.title, d.title, text],
                "all_fts5": [d.title, d.title, text],
            },
        }


def _build(client: OpenSearch, index: str, body: dict[str, Any], docs: list[BeirDocument]) -> None:
    if client.indices.exists(index=index):
        client.indices.delete(index=index)
    client.indices.create(index=index, body=body)
    backend = "all" not in body["mappings"]["properties"]
    actions = _actions(index, docs)
    if backend:
        actions = (
            {**a, "_source": {k: a["_source"][k] for k in ("external_id", "acl", "title", "body")}}
            for a in actions
        )
    helpers.bulk(client, actions, chunk_size=500, request_timeout=120)
    client.indices.refresh(index=index)


Ranking = dict[str, list[tuple[str, float]]]


def _run_opensearch(
    client: OpenSearch, index: str, queries: dict[str, str], body_of: Callable[[str], Any]
) -> Ranking:
    rankings: Ranking = {}
    ids = list(queries)
    for start in range(0, len(ids), 50):
        batch = ids[start : start + 50]
        lines: list[dict[str, Any]] = []
        for qid in batch:
            lines += [{"index": index}, body_of(queries[qid])]
        for qid, response in zip(
            batch, client.msearch(body=lines, request_timeout=120)["responses"], strict=True
        ):
            if "error" in response:
                raise RuntimeError(f"query {qid}: {response['error']}")
            rankings[qid] = [
                (h["_source"]["external_id"], float(h["_score"])) for h in response["hits"]["hits"]
            ]
    return rankings


def _variant_body(variant: Variant) -> Callable[[str], dict[str, Any]]:
    def body(query: str) -> dict[str, Any]:
        clause = variant.query(_terms(query, variant.terms))
        return {
            "size": DEPTH,
            "_source": ["external_id"],
            "query": {"bool": {"must": [clause], "filter": [{"terms": {"acl": [ACL]}}]}},
        }

    return body


def _backend_query(query: str) -> dict[str, Any]:
    body = keyword_body(query, frozenset({ACL}), SearchFilters(), DEPTH)
    body.pop("highlight", None)
    body["_source"] = ["external_id"]
    return body


def _run_fts5(documents: list[BeirDocument], queries: dict[str, str]) -> Ranking:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5 (external_id UNINDEXED, title, body,"
        " tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    conn.executemany(
        "INSERT INTO t VALUES (?, ?, ?)", [(d.id, d.title, d.text or d.title) for d in documents]
    )
    rankings: Ranking = {}
    for qid, text in queries.items():
        expression = fts_match_expression(text)
        if expression is None:
            rankings[qid] = []
            continue
        rows = conn.execute(
            f"SELECT external_id, -bm25(t, 0, {TITLE_WEIGHT}, {BODY_WEIGHT}) FROM t WHERE t MATCH ?"
            f" ORDER BY bm25(t, 0, {TITLE_WEIGHT}, {BODY_WEIGHT}) LIMIT {DEPTH}",
            (expression,),
        ).fetchall()
        rankings[qid] = [(row[0], float(row[1])) for row in rows]
    return rankings


def _hit(doc_id: str, score: float) -> Hit:
    # Fusion reads only ids, scores and highlights; the other fields are placeholders.
    return Hit(
        chunk_id=doc_id,
        doc_id=doc_id,
        source_id="bench",
        external_id=doc_id,
        chunk_index=0,
        text="",
        title="",
        doc_type="abstract",
        content_type="text/plain",
        updated_at=CORPUS_TIME,
        acl=frozenset({ACL}),
        score=score,
    )


def _dense(
    documents: list[BeirDocument], queries: dict[str, str], vectors: Path
) -> tuple[Ranking, float]:
    """Exact inner-product top 100 (what the embedded backend computes; Lucene HNSW returns the
    same lists at this size), from the corpus vectors ``permindex eval`` cached."""
    cache = VectorCache(vectors)
    rows = [cache.get(content_fingerprint(d, MODEL)) for d in documents]
    missing = sum(row is None for row in rows)
    if missing:
        raise SystemExit(f"{vectors}: {missing} corpus vectors missing; run permindex eval first")
    matrix = np.stack([row for row in rows if row is not None])
    embedder = make_embedder(EmbeddingSettings(model=MODEL))
    started = time.perf_counter()
    rankings: Ranking = {}
    for qid, text in queries.items():
        scores = matrix @ np.asarray(embedder.embed_query(text), dtype=np.float32)
        best = np.argsort(-scores, kind="stable")[:DEPTH]
        rankings[qid] = [(documents[i].id, float(scores[i])) for i in best]
    return rankings, time.perf_counter() - started


def _fused(keyword: Ranking, dense: Ranking, method: str) -> dict[str, list[str]]:
    settings = RetrievalSettings()
    fused: dict[str, list[str]] = {}
    for qid in dense:
        merged = merge_legs(
            [_hit(d, s) for d, s in keyword.get(qid, [])], [_hit(d, s) for d, s in dense[qid]]
        )
        ranked = (
            fuse_minmax(merged, settings.keyword_weight)
            if method == "minmax"
            else fuse_rrf(merged, settings.rrf_k)
        )
        fused[qid] = [c.doc_id for c in ranked]
    return fused


def _ids(rankings: Ranking) -> dict[str, list[str]]:
    return {qid: [doc for doc, _ in ranked] for qid, ranked in rankings.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--beir", type=Path, default=Path("../shared/datasets/scifact"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--url", default="http://127.0.0.1:9200")
    parser.add_argument("--prefix", default="bench-keyword-quality")
    parser.add_argument("--json", type=Path, default=Path("bench/results/keyword_quality.json"))
    parser.add_argument("--keep", action="store_true", help="Keep the scratch indices.")
    parser.add_argument(
        "--vectors",
        type=Path,
        default=None,
        help="Corpus vectors (.npz from permindex eval): adds hybrid rows (min-max 0.5, RRF).",
    )
    parser.add_argument(
        "--only", action="append", default=[], help="Run only variants containing this text."
    )
    args = parser.parse_args(argv)
    console = Console()

    evalset = load_beir_eval_set(args.beir, args.split)
    queries = {case.id: case.query for case in evalset.cases}
    qrels = {case.id: dict(case.relevant) for case in evalset.cases}
    documents = list(iter_corpus(args.beir))
    variants = [v for v in VARIANTS if not args.only or any(o in v.name for o in args.only)]
    rankings_by: dict[str, Ranking] = {}

    started = time.perf_counter()
    rankings_by[FTS5] = _run_fts5(documents, queries)
    console.print(f"fts5 done in {time.perf_counter() - started:.1f} s")

    client = OpenSearch(args.url, timeout=120)
    indices: dict[str, str] = {}
    try:
        for analysis in sorted({v.analysis for v in variants}):
            indices[analysis] = f"{args.prefix}-{analysis}"
            _build(client, indices[analysis], _scratch_body(ANALYSES[analysis]), documents)
        indices["backend"] = f"{args.prefix}-backend"
        _build(client, indices["backend"], _backend_body(), documents)
        rankings_by[BACKEND] = _run_opensearch(client, indices["backend"], queries, _backend_query)
        for variant in variants:
            started = time.perf_counter()
            rankings_by[variant.name] = _run_opensearch(
                client, indices[variant.analysis], queries, _variant_body(variant)
            )
            console.print(f"{variant.name}: {time.perf_counter() - started:.1f} s")
    finally:
        if not args.keep:
            for index in indices.values():
                client.indices.delete(index=index, ignore_unavailable=True)
        client.close()

    results = {name: quality(qrels, _ids(r))[0] for name, r in rankings_by.items()}
    hybrid: dict[str, dict[str, dict[str, float]]] = {}
    if args.vectors is not None:
        dense, seconds = _dense(documents, queries, args.vectors)
        console.print(f"dense leg (query embedding included) in {seconds:.1f} s")
        results["vector (exact)"] = quality(qrels, _ids(dense))[0]
        for name in (FTS5, BACKEND, *(v.name for v in variants)):
            hybrid[name] = {
                method: quality(qrels, _fused(rankings_by[name], dense, method))[0]
                for method in ("minmax", "rrf")
            }

    reference = results[FTS5]["ndcg@10"]
    table = Table(title=f"{evalset.name}: keyword ranking variants ({len(queries)} queries)")
    columns = ["variant", "nDCG@10", "recall@100", "MRR", "nDCG / fts5"]
    if hybrid:
        columns += ["hybrid-minmax nDCG@10", "hybrid-rrf nDCG@10"]
    for column in columns:
        table.add_column(column, justify="left" if column == "variant" else "right")
    for name, metrics in results.items():
        row = [
            name,
            f"{metrics['ndcg@10']:.4f}",
            f"{metrics['recall@100']:.4f}",
            f"{metrics['mrr']:.4f}",
            f"{metrics['ndcg@10'] / reference:.3f}",
        ]
        if hybrid:
            fused = hybrid.get(name)
            row += [f"{fused[m]['ndcg@10']:.4f}" if fused else "" for m in ("minmax", "rrf")]
        table.add_row(*row)
    console.print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "command": "python bench/keyword_quality.py " + " ".join(argv or sys.argv[1:]),
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "dataset": evalset.name,
                "queries": len(queries),
                "variants": results,
                "hybrid": hybrid,
            },
            indent=2,
        )
    )
    console.print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
