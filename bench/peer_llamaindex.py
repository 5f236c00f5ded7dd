"""permindex against what a Python team would build instead: LlamaIndex's OpenSearch vector store.

Same node, same SciFact corpus, same MiniLM vectors, one run. Two sizes: the 5,183 abstracts
(one chunk each) and 100k+ chunks grown from them by ``bench/query.py``'s builder (synthetic
documents that reuse an abstract's vector plus noise; imported, not copied). The builder also
gives every document a seeded ACL (40% organisation-wide, 50% one of 50 groups, 10% one user).

- **permindex**: the OpenSearch backend (``OpenSearchIndex.write_documents``, 250 documents a
  call as ``bench/query.py`` writes) and ``Searcher.search`` end to end (both legs in one
  ``_msearch`` with the ACL filter, re-checks, min-max fusion, collapse to one chunk per document,
  final ACL check), modes hybrid (the default) and vector.
- **LlamaIndex**: ``OpensearchVectorStore`` over ``OpensearchVectorClient`` with its defaults
  (HNSW m=48, ef_construction=256, L2 space, ``knn.algo_param.ef_search`` 100) except two the
  local node forces: ``engine="lucene"`` (its default, faiss, needs native libraries this node's
  k-NN plugin does not have: a faiss index kills the node on its first flush) and no replica (a
  single node cannot place one). ``add`` in batches of 2,048 nodes (``VectorStoreIndex``'s
  ``insert_batch_size``); each node's text is the abstract's title and text, which is what the
  vector was computed from. Queries through ``OpensearchVectorStore.query``: its default mode (a
  ``knn`` query) and its hybrid mode (the neural-search ``hybrid`` query through a search pipeline
  the user creates: min-max, arithmetic mean 0.5/0.5, as permindex fuses). No ACL: the store has
  no permission model, so it answers everyone with everything.

Embedding is excluded everywhere: corpus vectors come from the ``permindex eval`` cache and query
vectors from ``var/bench/`` (``bench/query_vectors.py``), handed to both. Indexing throughput is
chunks written per second of write calls (final refresh included, building the write objects
excluded). Latency: the first ``--queries`` train queries at top 10, the systems alternating
query by query; permindex answers a caller in the organisation and 5 of 50 groups (the ACL filter
does real work). Quality: all train queries at top 100 (permindex's pool is then 300 per leg, the
peer's k 100), nDCG@10 / recall@100 / MRR by the evaluation harness; permindex answers a caller
granted every principal in the corpus, so both rank the same documents (its ACL filter still
runs: a terms filter of 551 principals). Chunks map to their document's SciFact id, first
occurrence kept.

    python bench/peer_llamaindex.py            # JSON: bench/results/peer_llamaindex.json

End to end (``--end-to-end``, off by default): the same timed queries once more, each system
embedding the query itself with its default embedder before searching, alternating: permindex's
default (``EmbeddingSettings()``: ONNX Runtime float, the torch vectors) and, for LlamaIndex,
sentence-transformers on torch, which is what its ``HuggingFaceEmbedding`` runs (that package is
not installed here; it calls ``SentenceTransformer.encode`` on the same model). The search then
uses the cached vector, equal to the one just computed (cosine 1.0000).

Index names: ``<prefix>-permindex-<size>-*`` and ``<prefix>-llamaindex-<size>`` (``--prefix``,
default ``peer-bench``), rebuilt each run (``--reuse`` keeps them and skips the throughput line).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(REPO))

from hybrid_query import minmax_pipeline  # noqa: E402
from query import CALLER_PRINCIPALS, GROUPS, TENANT, _documents  # noqa: E402
from query_vectors import MODEL, corpus_vectors, query_vectors  # noqa: E402

from indexer.backends import open_stores  # noqa: E402
from indexer.backends.opensearch import OpenSearchIndex  # noqa: E402
from indexer.embedding import Embedder, SentenceTransformerEmbedder, make_embedder  # noqa: E402
from indexer.records import DocumentWrite  # noqa: E402
from indexer.settings import EmbeddingSettings, IndexSettings, OpenSearchSettings  # noqa: E402
from retrieval.evaluation.beir import iter_corpus, load_beir_eval_set  # noqa: E402
from retrieval.evaluation.metrics import quality  # noqa: E402
from retrieval.models import SearchMode, SearchQuery  # noqa: E402
from retrieval.searcher import Searcher  # noqa: E402
from retrieval.settings import RetrievalSettings  # noqa: E402

console = Console()
PERMINDEX_BATCH = 250
PEER_BATCH = 2048
# Every principal bench/query.py's ACLs use: a caller holding all of them may see every document.
EVERYONE = frozenset(
    {f"org:{TENANT}", *GROUPS, *(f"user:person{i}@bench.example" for i in range(500))}
)
CALLER = "caller@bench.example"
SYSTEMS = ["permindex hybrid", "permindex vector", "llamaindex default", "llamaindex hybrid"]
END_TO_END = {"permindex hybrid": "permindex default", "llamaindex hybrid": "sentence-transformers"}


class _CachedQueries:
    """An embedder that returns the cached vector of each query: embedding is in no timing."""

    def __init__(self, vectors: dict[str, npt.NDArray[np.float32]]) -> None:
        self._vectors = {text: vector.tolist() for text, vector in vectors.items()}

    @property
    def dimension(self) -> int:
        return 384

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vectors[text] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vectors[text]


class _NullAudit:
    def record(self, record: object) -> None:
        return None


def _external_id(doc_id: str) -> str:
    return doc_id.split(":", 1)[1] if ":" in doc_id else doc_id


def _dedupe(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


# --- permindex ----------------------------------------------------------------------------


class Permindex:
    def __init__(
        self, url: str, size: str, vectors: dict[str, npt.NDArray[np.float32]], prefix: str
    ) -> None:
        self.prefix = f"{prefix}-permindex-{size}"
        settings = IndexSettings(opensearch=OpenSearchSettings(url=url, index_prefix=self.prefix))
        self.stores = open_stores(settings, 384)
        assert isinstance(self.stores.index, OpenSearchIndex)
        self.index: OpenSearchIndex = self.stores.index
        self.searcher = Searcher(
            self.index, _CachedQueries(vectors), RetrievalSettings(), audit=_NullAudit()
        )

    def drop(self) -> None:
        client = self.index.gw.client
        for row in client.cat.indices(index=f"{self.prefix}-*", format="json"):
            client.indices.delete(index=row["index"])
        self.stores.close()

    def write(self, documents: Iterator[DocumentWrite]) -> tuple[int, float]:
        self.index.ensure_schema()
        chunks, seconds = 0, 0.0
        for batch in _batched(documents, PERMINDEX_BATCH):
            started = time.perf_counter()
            result = self.index.write_documents(batch)
            seconds += time.perf_counter() - started
            if result.failed:
                raise RuntimeError(f"{len(result.failed)} writes failed: {result.failed[0]}")
            chunks += sum(len(d.chunks) for d in batch)
        started = time.perf_counter()
        self.index.refresh()
        return chunks, seconds + time.perf_counter() - started

    def search(
        self, mode: SearchMode, text: str, top_k: int, principals: frozenset[str]
    ) -> list[str]:
        response = self.searcher.search(
            principals, SearchQuery(query=text, mode=mode, top_k=top_k), caller=CALLER
        )
        return [_external_id(r.doc_id) for r in response.results]

    def close(self) -> None:
        self.stores.close()


# --- LlamaIndex ---------------------------------------------------------------------------


class Peer:
    def __init__(self, url: str, size: str, prefix: str) -> None:
        from llama_index.vector_stores.opensearch import (
            OpensearchVectorClient,
            OpensearchVectorStore,
        )

        self.name = f"{prefix}-llamaindex-{size}"
        self.pipeline = f"{prefix}-llamaindex-hybrid"
        self.client = OpensearchVectorClient(
            url,
            self.name,
            384,
            engine="lucene",
            settings={
                "index": {"knn": True, "knn.algo_param.ef_search": 100, "number_of_replicas": 0}
            },
            search_pipeline=self.pipeline,
            timeout=300,
        )
        self.store = OpensearchVectorStore(self.client)
        self.os: Any = self.client._os_client

    def drop(self) -> None:
        self.os.indices.delete(index=self.name, ignore_unavailable=True)
        self.client._initialized = False

    def ensure_pipeline(self) -> None:
        self.os.transport.perform_request(
            "PUT", f"/_search/pipeline/{self.pipeline}", body=minmax_pipeline(0.5)
        )

    def write(self, documents: Iterator[DocumentWrite]) -> tuple[int, float]:
        from llama_index.core.schema import TextNode

        chunks, seconds = 0, 0.0
        nodes: list[Any] = []

        def flush() -> float:
            started = time.perf_counter()
            self.store.add(nodes)
            return time.perf_counter() - started

        for document in documents:
            for chunk in document.chunks:
                nodes.append(
                    TextNode(
                        id_=f"{document.doc_id}#{chunk.index}",
                        text=f"{document.title}\n{chunk.text}",
                        embedding=chunk.vector,
                        metadata={"doc_id": document.doc_id, "chunk_index": chunk.index},
                    )
                )
            if len(nodes) >= PEER_BATCH:
                seconds += flush()
                chunks += len(nodes)
                nodes = []
        if nodes:
            seconds += flush()
            chunks += len(nodes)
        return chunks, seconds

    def search(self, mode: str, text: str, vector: list[float], top_k: int) -> list[str]:
        from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

        query = VectorStoreQuery(
            query_embedding=vector,
            query_str=text,
            similarity_top_k=top_k,
            mode=VectorStoreQueryMode.HYBRID if mode == "hybrid" else VectorStoreQueryMode.DEFAULT,
        )
        result = self.store.query(query)
        return [_external_id(node.metadata["doc_id"]) for node in result.nodes or []]

    def close(self) -> None:
        self.client.close()


def _batched(items: Iterator[DocumentWrite], size: int) -> Iterator[list[DocumentWrite]]:
    batch: list[DocumentWrite] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _runner(
    permindex: Permindex, peer: Peer, vectors: dict[str, list[float]]
) -> dict[str, Callable[[str, int, frozenset[str]], list[str]]]:
    return {
        "permindex hybrid": lambda q, k, p: permindex.search("hybrid", q, k, p),
        "permindex vector": lambda q, k, p: permindex.search("vector", q, k, p),
        "llamaindex default": lambda q, k, p: peer.search("default", q, vectors[q], k),
        "llamaindex hybrid": lambda q, k, p: peer.search("hybrid", q, vectors[q], k),
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    array = np.asarray(values)
    return {
        "p50_ms": float(np.percentile(array, 50)),
        "p95_ms": float(np.percentile(array, 95)),
        "mean_ms": float(array.mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--beir", type=Path, default=Path("../shared/datasets/scifact"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--url", default="http://127.0.0.1:9200")
    parser.add_argument("--vectors", type=Path, default=Path("var/eval/kq/scifact.vectors.npz"))
    parser.add_argument("--large-chunks", type=int, default=100_000)
    parser.add_argument("--sizes", default="5k,100k", help="Which of 5k and 100k to run.")
    parser.add_argument("--queries", type=int, default=200, help="Queries timed per size.")
    parser.add_argument("--quality-limit", type=int, default=None, help="Queries scored.")
    parser.add_argument("--reuse", action="store_true", help="Keep existing indices.")
    parser.add_argument(
        "--prefix", default="peer-bench", help="Index and search-pipeline name prefix."
    )
    parser.add_argument("--json", type=Path, default=Path("bench/results/peer_llamaindex.json"))
    parser.add_argument(
        "--end-to-end", action="store_true", help="Also time hybrid with query embedding."
    )
    args = parser.parse_args(argv)
    embedders: dict[str, Embedder] = {}
    if args.end_to_end:
        embedders = {
            "permindex default": make_embedder(EmbeddingSettings(model=MODEL)),
            "sentence-transformers": SentenceTransformerEmbedder(EmbeddingSettings(model=MODEL)),
        }
        for embedder in embedders.values():
            embedder.embed_query("warm up")
        # auto falls back to torch where it cannot export: say which one was measured.
        used = type(embedders["permindex default"]).__name__
        console.print(f"permindex default embedder: {used}")

    corpus = list(iter_corpus(args.beir))
    abstract_vectors = corpus_vectors(corpus, args.vectors)
    evalset = load_beir_eval_set(args.beir, args.split, limit=args.quality_limit)
    qrels = {case.id: dict(case.relevant) for case in evalset.cases}
    by_id, seconds = query_vectors({case.id: case.query for case in evalset.cases})
    by_text = {case.query: by_id[case.id] for case in evalset.cases}
    console.print(f"{len(by_text)} query vectors ({seconds:.0f} s embedding the uncached)")
    vector_lists = {text: vector.tolist() for text, vector in by_text.items()}
    timed = [case.query for case in evalset.cases[: args.queries]]

    wanted = {name.strip() for name in args.sizes.split(",")}
    sizes = {
        name: target
        for name, target in (("5k", len(corpus)), ("100k", args.large_chunks))
        if name in wanted
    }
    report: dict[str, Any] = {}
    for size, target in sizes.items():
        permindex = Permindex(args.url, size, by_text, args.prefix)
        peer = Peer(args.url, size, args.prefix)
        peer.ensure_pipeline()
        entry: dict[str, Any] = {}
        try:
            if not args.reuse:
                permindex.drop()
                permindex = Permindex(args.url, size, by_text, args.prefix)
                peer.drop()
                throughput = {}
                writers: list[tuple[str, Permindex | Peer]] = [
                    ("permindex", permindex),
                    ("llamaindex", peer),
                ]
                for name, writer in writers:
                    chunks, secs = writer.write(
                        _documents(corpus, abstract_vectors, target, seed=11)
                    )
                    throughput[name] = {
                        "chunks": chunks,
                        "seconds": secs,
                        "chunks_per_s": chunks / secs,
                    }
                    console.print(f"{size} {name}: {chunks} chunks in {secs:.1f} s")
                entry["indexing"] = throughput
            run = _runner(permindex, peer, vector_lists)
            for system in SYSTEMS:  # warm-up: caches, first-query costs
                for text in timed[:5]:
                    run[system](text, 10, CALLER_PRINCIPALS)
            times: dict[str, list[float]] = {s: [] for s in SYSTEMS}
            for i, text in enumerate(timed):
                order = SYSTEMS[i % len(SYSTEMS) :] + SYSTEMS[: i % len(SYSTEMS)]
                for system in order:
                    started = time.perf_counter()
                    run[system](text, 10, CALLER_PRINCIPALS)
                    times[system].append((time.perf_counter() - started) * 1000.0)
            entry["latency"] = {s: _percentiles(v) for s, v in times.items()}
            if embedders:
                entry["end_to_end"] = _end_to_end(run, embedders, timed)
            rankings: dict[str, dict[str, list[str]]] = {s: {} for s in SYSTEMS}
            for case in evalset.cases:
                for system in SYSTEMS:
                    rankings[system][case.id] = _dedupe(run[system](case.query, 100, EVERYONE))
            entry["quality"] = {s: quality(qrels, rankings[s])[0] for s in SYSTEMS}
        finally:
            permindex.close()
            peer.close()
        report[size] = entry
        _print(size, entry)

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "command": "python bench/peer_llamaindex.py " + " ".join(argv or sys.argv[1:]),
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "queries_timed": len(timed),
                "queries_scored": len(evalset.cases),
                "sizes": report,
                "ratios": _ratios(report),
            },
            indent=2,
        )
    )
    console.print(f"JSON: {args.json}")
    return 0


def _end_to_end(
    run: dict[str, Callable[[str, int, frozenset[str]], list[str]]],
    embedders: dict[str, Embedder],
    timed: list[str],
) -> dict[str, dict[str, float]]:
    """Hybrid with the query embedded by each system's default embedder, alternating."""
    systems = list(END_TO_END)
    embed_ms: dict[str, list[float]] = {s: [] for s in systems}
    total_ms: dict[str, list[float]] = {s: [] for s in systems}
    for i, text in enumerate(timed):
        for system in systems[i % 2 :] + systems[: i % 2]:
            started = time.perf_counter()
            embedders[END_TO_END[system]].embed_query(text)
            embedded = time.perf_counter()
            run[system](text, 10, CALLER_PRINCIPALS)
            ended = time.perf_counter()
            embed_ms[system].append((embedded - started) * 1000.0)
            total_ms[system].append((ended - started) * 1000.0)
    out: dict[str, dict[str, float]] = {}
    for system in systems:
        totals = _percentiles(total_ms[system])
        embeds = _percentiles(embed_ms[system])
        out[system] = {
            **totals,
            "embed_p50_ms": embeds["p50_ms"],
            "embed_p95_ms": embeds["p95_ms"],
        }
    return out


def _ratios(report: dict[str, Any]) -> dict[str, Any]:
    """permindex over LlamaIndex: throughput (>1 is permindex faster), p50/p95 (<1 is permindex
    faster), nDCG@10 (>1 is permindex better); hybrid against each peer mode."""
    out: dict[str, Any] = {}
    for size, entry in report.items():
        ratios: dict[str, float] = {}
        if "indexing" in entry:
            ratios["indexing chunks/s permindex / llamaindex"] = (
                entry["indexing"]["permindex"]["chunks_per_s"]
                / entry["indexing"]["llamaindex"]["chunks_per_s"]
            )
        for ours, theirs in (
            ("permindex hybrid", "llamaindex default"),
            ("permindex hybrid", "llamaindex hybrid"),
            ("permindex vector", "llamaindex default"),
        ):
            for stat in ("p50_ms", "p95_ms"):
                ratios[f"{stat} {ours} / {theirs}"] = (
                    entry["latency"][ours][stat] / entry["latency"][theirs][stat]
                )
            ratios[f"ndcg@10 {ours} / {theirs}"] = (
                entry["quality"][ours]["ndcg@10"] / entry["quality"][theirs]["ndcg@10"]
            )
        if "end_to_end" in entry:
            ours, theirs = (entry["end_to_end"][s] for s in END_TO_END)
            for stat in ("p50_ms", "p95_ms"):
                ratios[f"{stat} end to end permindex hybrid / llamaindex hybrid"] = (
                    ours[stat] / theirs[stat]
                )
        out[size] = ratios
    return out


def _print(size: str, entry: dict[str, Any]) -> None:
    table = Table(title=f"{size}: permindex (ACL filter on) against LlamaIndex OpenSearch store")
    for column in ("system", "chunks/s", "p50 ms", "p95 ms", "nDCG@10", "recall@100", "MRR"):
        table.add_column(column, justify="left" if column == "system" else "right")
    for system in SYSTEMS:
        owner = system.split()[0]
        rate = entry.get("indexing", {}).get(owner, {}).get("chunks_per_s")
        lat, q = entry["latency"][system], entry["quality"][system]
        table.add_row(
            system,
            f"{rate:.0f}" if rate else "",
            f"{lat['p50_ms']:.1f}",
            f"{lat['p95_ms']:.1f}",
            f"{q['ndcg@10']:.4f}",
            f"{q['recall@100']:.4f}",
            f"{q['mrr']:.4f}",
        )
    console.print(table)
    for system, row in entry.get("end_to_end", {}).items():
        console.print(
            f"  end to end, {system} embedding with {END_TO_END[system]}: p50 {row['p50_ms']:.1f}"
            f" / p95 {row['p95_ms']:.1f} ms (embedding p50 {row['embed_p50_ms']:.1f} ms)"
        )
    for name, value in _ratios({size: entry})[size].items():
        console.print(f"  {name}: {value:.3f}")


if __name__ == "__main__":
    sys.exit(main())
