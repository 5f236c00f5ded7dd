"""Indexing throughput per embedding backend on SciFact: torch, ONNX float, ONNX int8, in one run.

Measured in one process on the same chunks, so the ratios survive a noisy shared machine:

1. chunk the first ``--limit`` documents with the indexer's own chunker (what the pipeline
   embeds) and cut them into ``--slices`` slices;
2. slice after slice, every variant runs a sync run of that slice into its own embedded index
   (read, fingerprint, chunk, embed, write), the order of the variants rotating per slice, so
   that load changes on the machine hit all alike. Prints chunks/s per variant and the ratio to
   torch, and the share of the pipeline spent outside the embedder;
3. what else the embedder leaves on the table, on the default variant: tokenization seconds
   against inference seconds, and tokens computed with and without batching by length;
4. query embedding latency per variant (the same queries, alternating);
5. quality: hybrid and dense nDCG@10 on SciFact train through ``permindex eval``'s own ingest and
   evaluator, per variant, against float torch (target within 0.005). ``--ndcg-queries`` and
   ``--ndcg-docs`` cut the judged set (the relevant documents of the first N queries plus the
   first other documents up to M) so that three corpora embed in minutes; 0 means all.
   Torch vectors are read from a ``permindex eval`` vector cache when one is given (they are
   keyed by content and model, so they are torch's), the others are embedded here.

Writes ``bench/results/indexing-embedding.json``.

    python bench/indexing.py                                    # whole corpus, whole train set
    python bench/indexing.py --limit 300 --ndcg-queries 150 --ndcg-docs 500
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(REPO))

from prometheus_client import REGISTRY  # noqa: E402

from connectors.contract import EMPTY_INDEX, Capabilities, Connector, SyncContext  # noqa: E402
from connectors.documents import SourceDocument  # noqa: E402
from connectors.events import (  # noqa: E402
    ChangeEvent,
    Checkpoint,
    CheckpointReached,
    DocumentUpserted,
    ListingEnd,
    ListingEvent,
    LiveId,
)
from indexer.backends import Stores, open_stores  # noqa: E402
from indexer.chunking import Chunker  # noqa: E402
from indexer.embedding import Embedder, make_embedder  # noqa: E402
from indexer.embedding_onnx import OnnxEmbedder, length_sorted_batches, padded_tokens  # noqa: E402
from indexer.principals import OrgPolicy  # noqa: E402
from indexer.run_types import RunType  # noqa: E402
from indexer.runner import SyncRunner  # noqa: E402
from indexer.settings import (  # noqa: E402
    ChunkingSettings,
    EmbeddedSettings,
    EmbeddingSettings,
    IndexSettings,
)
from retrieval.audit import AuditRecord  # noqa: E402
from retrieval.evaluation.beir import iter_corpus, load_beir_eval_set  # noqa: E402
from retrieval.evaluation.command import BEIR_TENANT, BEIR_USER, beir_source_id  # noqa: E402
from retrieval.evaluation.dataset import EvalSet  # noqa: E402
from retrieval.evaluation.harness import Evaluator  # noqa: E402
from retrieval.evaluation.ingest import ingest_beir  # noqa: E402
from retrieval.evaluation.metrics import latency_summary  # noqa: E402
from retrieval.evaluation.modes import parse_mode  # noqa: E402
from retrieval.searcher import Searcher  # noqa: E402
from retrieval.settings import RetrievalSettings  # noqa: E402

DEFAULT_BEIR = REPO.parent / "shared" / "datasets" / "scifact"
DEFAULT_TORCH_VECTORS = REPO / "var" / "eval" / "kq" / "scifact.vectors.npz"
RESULTS = REPO / "bench" / "results"
SOURCE_ID = "scifact"
UPDATED_AT = datetime(2020, 1, 1, tzinfo=UTC)
ACL = frozenset({"org:bench"})
SPEEDUP_TARGET = 2.0
NDCG_TOLERANCE = 0.005
VARIANTS: dict[str, dict[str, Any]] = {
    "torch": {"backend": "torch"},
    "onnx": {"backend": "onnx", "quantization": "none"},
    "onnx-int8": {"backend": "onnx", "quantization": "int8"},
}


def read_corpus(root: Path, limit: int | None) -> list[SourceDocument]:
    documents: list[SourceDocument] = []
    for row in iter_corpus(root):
        if limit is not None and len(documents) >= limit:
            break
        documents.append(
            SourceDocument(
                source_id=SOURCE_ID, external_id=row.id, title=row.title, body=row.text,
                updated_at=UPDATED_AT, doc_type="abstract", acl=ACL,
            )
        )  # fmt: skip
    return documents


class CorpusConnector(Connector):
    """A source that is a list of documents already in memory (so reading costs no I/O)."""

    capabilities = Capabilities(incremental=True, listing=True)

    def __init__(self, documents: list[SourceDocument]) -> None:
        self.source_id = SOURCE_ID
        self.documents = documents  # what the next run sees; the bench swaps it per slice

    def validate(self) -> None:
        return None

    def changes(
        self, checkpoint: Checkpoint | None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[ChangeEvent]:
        for document in self.documents:
            yield DocumentUpserted(document=document)
        yield CheckpointReached(checkpoint=Checkpoint(value={"documents": len(self.documents)}))

    def list_live_ids(self) -> Iterator[ListingEvent]:
        for document in self.documents:
            yield LiveId(external_id=document.external_id)
        yield ListingEnd(completed=True)


def embed_seconds_so_far() -> float:
    return REGISTRY.get_sample_value("permindex_embedding_batch_seconds_sum") or 0.0


class _NullAudit:
    def record(self, record: AuditRecord) -> None:
        return None


def pipeline(
    args: argparse.Namespace, embedders: dict[str, Embedder], workdir: Path
) -> dict[str, dict[str, float]]:
    documents = read_corpus(args.beir, args.limit)
    chunking = ChunkingSettings()
    chunker = Chunker(chunking)
    chunks = sum(len(chunker.chunk(doc)) for doc in documents)
    print(f"pipeline: {len(documents)} documents, {chunks} chunks", flush=True)
    size = -(-len(documents) // max(1, args.slices))
    bounds = [(at, min(at + size, len(documents))) for at in range(0, len(documents), size)]
    runners: dict[str, tuple[SyncRunner, CorpusConnector, Stores]] = {}
    for name, embedder in embedders.items():
        stores = open_stores(
            IndexSettings(embedded=EmbeddedSettings(path=workdir / f"{name}.sqlite")),
            embedder.dimension,
        )
        stores.index.ensure_schema()
        connector = CorpusConnector([])
        runner = SyncRunner(
            connector, stores, embedder, chunking=chunking, model_name=f"{args.model}/{name}",
            clock=lambda: datetime.now(UTC), owner="bench",
            write_batch_docs=args.write_batch, embed_batch_chunks=args.embed_batch,
        )  # fmt: skip
        runners[name] = (runner, connector, stores)
    totals = {name: {"seconds": 0.0, "embedding_seconds": 0.0, "chunks": 0.0} for name in runners}
    names = list(runners)
    try:
        for number, (start, end) in enumerate(bounds):
            rotation = names[number % len(names) :] + names[: number % len(names)]
            for name in rotation:
                runner, connector, _ = runners[name]
                connector.documents = documents[start:end]
                embed_before = embed_seconds_so_far()
                began = time.perf_counter()
                record = runner.run(RunType.incremental)
                totals[name]["seconds"] += time.perf_counter() - began
                totals[name]["embedding_seconds"] += embed_seconds_so_far() - embed_before
                if record.status != "succeeded":
                    raise SystemExit(f"{name}: sync run failed: {record.message}")
                totals[name]["chunks"] += record.counts.chunks_embedded
            line = ", ".join(f"{n} {t['seconds']:.1f}s" for n, t in totals.items())
            print(f"slice {number + 1}/{len(bounds)}: {line} (cumulative)", flush=True)
    finally:
        for _, _, stores in runners.values():
            stores.close()
    for name, total in totals.items():
        if total["chunks"] != chunks:
            raise SystemExit(f"{name} embedded {total['chunks']} chunks, expected {chunks}")
        total["chunks_per_second"] = round(chunks / total["seconds"], 3)
        total["non_embedding_share"] = round(
            (total["seconds"] - total["embedding_seconds"]) / total["seconds"], 4
        )
        total["ratio_to_torch"] = round(totals["torch"]["seconds"] / total["seconds"], 3)
        for key in ("seconds", "embedding_seconds"):
            total[key] = round(total[key], 3)
    return totals


def embedder_costs(args: argparse.Namespace, embedder: OnnxEmbedder) -> dict[str, float]:
    """Tokenization against inference, and padding with and without batching by length."""
    chunker = Chunker(ChunkingSettings())
    texts = [
        chunk.embed_text
        for doc in read_corpus(args.beir, args.limit)
        for chunk in chunker.chunk(doc)
    ]
    began = time.perf_counter()
    lengths = [len(e.ids) for e in embedder.tokenize(texts)]
    tokenize_seconds = time.perf_counter() - began
    began = time.perf_counter()
    for at in range(0, len(texts), args.embed_batch):
        embedder.embed_array(texts[at : at + args.embed_batch])
    total_seconds = time.perf_counter() - began
    batch = embedder.settings.batch_size
    sorted_tokens = unsorted_tokens = 0
    for at in range(0, len(lengths), args.embed_batch):
        call = lengths[at : at + args.embed_batch]
        sorted_tokens += padded_tokens(call, length_sorted_batches(call, batch))
        in_order = [list(range(i, min(i + batch, len(call)))) for i in range(0, len(call), batch)]
        unsorted_tokens += padded_tokens(call, in_order)
    real = sum(lengths)
    return {
        "texts": len(texts),
        "tokenize_seconds": round(tokenize_seconds, 3),
        "embed_seconds_including_tokenize": round(total_seconds, 3),
        "tokenize_share": round(tokenize_seconds / total_seconds, 4),
        "real_tokens": real,
        "padded_tokens_in_call_order": unsorted_tokens,
        "padded_tokens_length_sorted": sorted_tokens,
        "padding_factor_in_call_order": round(unsorted_tokens / real, 4),
        "padding_factor_length_sorted": round(sorted_tokens / real, 4),
        "threads": float(embedder.settings.threads or 0),
    }


def query_latency(evalset: EvalSet, embedders: dict[str, Embedder]) -> dict[str, dict[str, float]]:
    latencies: dict[str, list[float]] = {name: [] for name in embedders}
    for case in evalset.cases:
        for name, embedder in embedders.items():
            began = time.perf_counter()
            embedder.embed_query(case.query)
            latencies[name].append((time.perf_counter() - began) * 1000.0)
    return {name: latency_summary(values) for name, values in latencies.items()}


def judged_subset(args: argparse.Namespace, workdir: Path) -> tuple[Path, EvalSet]:
    """A BEIR folder holding the relevant documents of the first queries and some others."""
    evalset = load_beir_eval_set(args.beir, "train", limit=args.ndcg_queries or None)
    if not args.ndcg_docs:
        return args.beir, evalset
    wanted = {doc for case in evalset.cases for doc in case.relevant}
    root = workdir / "scifact-subset"
    root.mkdir()
    kept = 0
    with (root / "corpus.jsonl").open("w", encoding="utf-8") as out:
        for document in iter_corpus(args.beir):
            if document.id in wanted or kept < args.ndcg_docs - len(wanted):
                kept += document.id not in wanted
                out.write(json.dumps({"_id": document.id, "title": document.title,
                                      "text": document.text}) + "\n")  # fmt: skip
    for name in ("queries_train.jsonl", "qrels_train.tsv"):
        (root / name).symlink_to((args.beir / name).resolve())
    return root, evalset


def quality(
    args: argparse.Namespace, embedders: dict[str, Embedder], workdir: Path
) -> tuple[dict[str, dict[str, float]], EvalSet, int]:
    root, evalset = judged_subset(args, workdir)
    corpus_size = sum(1 for _ in iter_corpus(root))
    source_id = beir_source_id(args.beir)
    principals = frozenset({f"org:{BEIR_TENANT}", f"user:{BEIR_USER}"})
    results: dict[str, dict[str, float]] = {}
    for name, embedder in embedders.items():
        is_torch = name == "torch"
        stores = open_stores(
            IndexSettings(embedded=EmbeddedSettings(path=workdir / f"eval-{name}.sqlite")),
            embedder.dimension,
        )
        try:
            stats = ingest_beir(
                stores.index, embedder, root, source_id=source_id, tenant=BEIR_TENANT,
                # torch keeps the model name, so the vectors of `permindex eval` runs are reused.
                model_name=args.model if is_torch else f"{args.model}/{name}",
                vector_cache=args.torch_vectors if is_torch else None,
            )  # fmt: skip
            settings = RetrievalSettings(org=OrgPolicy(tenant=BEIR_TENANT))
            searcher = Searcher(stores.index, embedder, settings, audit=_NullAudit())
            evaluator = Evaluator(
                searcher, lambda _user: principals, default_email=BEIR_USER,
                beir_source_id=source_id,
            )  # fmt: skip
            row = {
                "ingest_seconds": round(stats.seconds, 2),
                "cached_vectors": stats.cached_vectors,
            }
            for mode in ("hybrid", "vector"):
                row[f"{mode}_ndcg@10"] = round(
                    evaluator.run(evalset, parse_mode(mode)).metrics["ndcg@10"], 4
                )
            results[name] = row
            print(f"quality {name}: {row}", flush=True)
        finally:
            stores.close()
    for row in results.values():
        for mode in ("hybrid", "vector"):
            row[f"{mode}_delta_to_torch"] = round(
                row[f"{mode}_ndcg@10"] - results["torch"][f"{mode}_ndcg@10"], 4
            )
    return results, evalset, corpus_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beir", type=Path, default=DEFAULT_BEIR, help="SciFact BEIR folder")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--limit", type=int, default=None, help="pipeline: first N documents")
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--embed-batch", type=int, default=256, help="chunks per embedding call")
    parser.add_argument("--write-batch", type=int, default=32, help="documents per index write")
    parser.add_argument("--threads", type=int, default=None, help="ONNX intra-op threads")
    parser.add_argument("--onnx-cache", type=Path, default=None, help="ONNX export cache folder")
    parser.add_argument("--ndcg-queries", type=int, default=0, help="0: every train query")
    parser.add_argument("--ndcg-docs", type=int, default=0, help="0: the whole corpus")
    parser.add_argument(
        "--torch-vectors", type=Path,
        default=DEFAULT_TORCH_VECTORS if DEFAULT_TORCH_VECTORS.is_file() else None,
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS / "indexing-embedding.json")
    args = parser.parse_args(argv)

    embedders: dict[str, Embedder] = {}
    first_open: dict[str, float] = {}
    for name, options in VARIANTS.items():
        settings = EmbeddingSettings(
            model=args.model, onnx_cache_dir=args.onnx_cache, threads=args.threads, **options
        )
        began = time.perf_counter()
        embedder = make_embedder(settings)
        embedder.embed_documents(["warm up"] * 8)  # load (or export) outside every timing
        first_open[name] = round(time.perf_counter() - began, 2)
        embedders[name] = embedder
        print(f"{name}: ready in {first_open[name]}s", flush=True)
    default_variant = EmbeddingSettings().variant

    with tempfile.TemporaryDirectory(prefix="permindex-bench-") as tmp:
        workdir = Path(tmp)
        throughput = pipeline(args, embedders, workdir)
        costs_of = embedders["onnx-int8"]
        assert isinstance(costs_of, OnnxEmbedder)
        costs = embedder_costs(args, costs_of)
        ndcg, evalset, corpus_size = quality(args, embedders, workdir)
        latency = query_latency(evalset, embedders)

    default_speedup = throughput[default_variant]["ratio_to_torch"]
    default_delta = ndcg[default_variant]["hybrid_delta_to_torch"]
    result: dict[str, Any] = {
        "benchmark": "indexing-embedding",
        "command": " ".join(["python", "bench/indexing.py", *(argv or sys.argv[1:])]),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "model": args.model,
        "default_variant": default_variant,
        "first_open_seconds": first_open,
        "pipeline": throughput,
        "embedder_costs_onnx_int8": costs,
        "query_embedding_ms": latency,
        "ndcg": {"queries": len(evalset.cases), "corpus_documents": corpus_size, **ndcg},
        "targets": {"default_over_torch": SPEEDUP_TARGET, "hybrid_ndcg_delta": NDCG_TOLERANCE},
        "meets_targets": {
            "default_over_torch": default_speedup >= SPEEDUP_TARGET,
            "hybrid_ndcg_delta": abs(default_delta) <= NDCG_TOLERANCE,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    print()
    print(f"{'variant':<10} {'chunks/s':>9} {'x torch':>8} {'hybrid':>7} {'Δ':>7} "
          f"{'dense':>7} {'Δ':>7} {'query p50 ms':>13}")  # fmt: skip
    for name in embedders:
        t, q = throughput[name], ndcg[name]
        print(
            f"{name:<10} {t['chunks_per_second']:>9.2f} {t['ratio_to_torch']:>8.2f} "
            f"{q['hybrid_ndcg@10']:>7.4f} {q['hybrid_delta_to_torch']:>+7.4f} "
            f"{q['vector_ndcg@10']:>7.4f} {q['vector_delta_to_torch']:>+7.4f} "
            f"{latency[name]['p50']:>13.1f}"
        )
    print(
        f"default {default_variant}: {default_speedup:.2f}x torch (target >= {SPEEDUP_TARGET}), "
        f"hybrid nDCG@10 {default_delta:+.4f} (target within {NDCG_TOLERANCE})"
    )
    print(
        f"tokenization {costs['tokenize_share']:.1%} of embedding; padded/real tokens "
        f"{costs['padding_factor_in_call_order']:.2f} in call order, "
        f"{costs['padding_factor_length_sorted']:.2f} sorted by length"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
