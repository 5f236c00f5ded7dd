"""HTTP compression of the OpenSearch client, on and off, side by side on the same node.

Two fresh index sets (``<prefix>-on-*``, ``<prefix>-off-*``) get the same documents from
``bench/query.py``'s builder (SciFact abstracts grown to ``--chunks`` chunks, seeded ACLs, the
cached MiniLM vectors: no embedding anywhere), written in batches of 250 documents that alternate
between the two clients (the first of each pair alternating too), so a change of load on the
machine hits both alike. Then the same hybrid searches (``Searcher.search``, top 10, a caller in
the organisation and 5 of 50 groups) alternate query by query, ``--rounds`` times. Prints chunks/s
and p50/p95 for each and the ratios; JSON in ``bench/results/opensearch_compression.json``.
The indices are deleted afterwards.

    python bench/opensearch_compression.py        # 20k chunks, 100 queries x 2 rounds
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(REPO))

from peer_llamaindex import PERMINDEX_BATCH, _CachedQueries, _NullAudit, _percentiles  # noqa: E402
from query import CALLER, CALLER_PRINCIPALS, _documents  # noqa: E402
from query_vectors import corpus_vectors, query_vectors  # noqa: E402

from indexer.backends import Stores, open_stores  # noqa: E402
from indexer.backends.opensearch import OpenSearchIndex  # noqa: E402
from indexer.settings import IndexSettings, OpenSearchSettings  # noqa: E402
from retrieval.evaluation.beir import iter_corpus, load_queries  # noqa: E402
from retrieval.models import SearchQuery  # noqa: E402
from retrieval.searcher import Searcher  # noqa: E402
from retrieval.settings import RetrievalSettings  # noqa: E402

VARIANTS = {"on": True, "off": False}


def _drop(stores: Stores, prefix: str) -> None:
    assert isinstance(stores.index, OpenSearchIndex)
    client = stores.index.gw.client
    for row in client.cat.indices(index=f"{prefix}-*", format="json"):
        client.indices.delete(index=row["index"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--beir", type=Path, default=Path("../shared/datasets/scifact"))
    parser.add_argument("--url", default="http://127.0.0.1:9200")
    parser.add_argument("--vectors", type=Path, default=Path("var/eval/kq/scifact.vectors.npz"))
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--prefix", default="compression-bench")
    parser.add_argument(
        "--json", type=Path, default=Path("bench/results/opensearch_compression.json")
    )
    args = parser.parse_args(argv)

    corpus = list(iter_corpus(args.beir))
    abstract_vectors = corpus_vectors(corpus, args.vectors)
    documents = list(_documents(corpus, abstract_vectors, args.chunks, seed=3))
    texts = list(load_queries(args.beir, "train").values())[: args.queries]
    vectors, _ = query_vectors({text: text for text in texts})  # keyed by the text itself

    stores: dict[str, Stores] = {}
    for name, compress in VARIANTS.items():
        settings = OpenSearchSettings(
            url=args.url, index_prefix=f"{args.prefix}-{name}", http_compress=compress
        )
        stores[name] = open_stores(IndexSettings(opensearch=settings), 384)
        _drop(stores[name], f"{args.prefix}-{name}")
        stores[name].index.ensure_schema()
    try:
        seconds = dict.fromkeys(VARIANTS, 0.0)
        chunks = dict.fromkeys(VARIANTS, 0)
        batches = [
            documents[at : at + PERMINDEX_BATCH] for at in range(0, len(documents), PERMINDEX_BATCH)
        ]
        for i, batch in enumerate(batches):
            name = list(VARIANTS)[(i + i // 2) % 2]
            started = time.perf_counter()
            result = stores[name].index.write_documents(batch)
            seconds[name] += time.perf_counter() - started
            if result.failed:
                raise RuntimeError(f"{len(result.failed)} writes failed: {result.failed[0]}")
            chunks[name] += sum(len(d.chunks) for d in batch)
        writes = {
            name: {
                "chunks": chunks[name],
                "seconds": seconds[name],
                "chunks_per_s": chunks[name] / seconds[name],
            }
            for name in VARIANTS
        }
        for name in VARIANTS:
            stores[name].index.refresh()

        searchers = {
            name: Searcher(
                stores[name].index, _CachedQueries(vectors), RetrievalSettings(), audit=_NullAudit()
            )
            for name in VARIANTS
        }

        def search(name: str, text: str) -> float:
            started = time.perf_counter()
            query = SearchQuery(query=text, mode="hybrid", top_k=10)
            searchers[name].search(CALLER_PRINCIPALS, query, caller=CALLER)
            return (time.perf_counter() - started) * 1000.0

        for text in texts[:5]:  # warm-up
            for name in VARIANTS:
                search(name, text)
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for round_ in range(args.rounds):
            for i, text in enumerate(texts):
                order = list(VARIANTS) if (i + round_) % 2 else list(reversed(VARIANTS))
                for name in order:
                    times[name].append(search(name, text))
        latency = {name: _percentiles(values) for name, values in times.items()}
    finally:
        for name, opened in stores.items():
            _drop(opened, f"{args.prefix}-{name}")
            opened.close()

    ratios = {
        "write chunks/s off / on": writes["off"]["chunks_per_s"] / writes["on"]["chunks_per_s"],
        "hybrid p50 off / on": latency["off"]["p50_ms"] / latency["on"]["p50_ms"],
        "hybrid p95 off / on": latency["off"]["p95_ms"] / latency["on"]["p95_ms"],
    }
    for name in VARIANTS:
        print(
            f"http_compress {name}: {writes[name]['chunks_per_s']:.0f} chunks/s written, hybrid "
            f"p50 {latency[name]['p50_ms']:.1f} / p95 {latency[name]['p95_ms']:.1f} ms"
        )
    for label, value in ratios.items():
        print(f"  {label}: {value:.3f}")
    command = "python bench/opensearch_compression.py " + " ".join(argv or sys.argv[1:])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "command": command.strip(),
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "chunks": args.chunks,
                "queries_timed": len(texts) * args.rounds,
                "writes": writes,
                "latency": latency,
                "ratios": ratios,
            },
            indent=2,
        )
    )
    print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
