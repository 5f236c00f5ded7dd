"""Query latency per mode (keyword, vector, hybrid), both backends, two index sizes, one run.

Sizes: the SciFact corpus as is (one chunk per abstract), and 100k+ chunks made by adding
synthetic documents. Embedding 100k chunks on two cores would take an hour, so synthetic chunks
REUSE the vector of the real abstract they were cut from plus small Gaussian noise (sigma 0.02
per dimension before re-normalising); their text is that abstract's sentences, re-chunked in a
rotated order, under new ids. Every document gets a seeded, realistic ACL: 40% organisation-wide,
50% one of 50 groups, 10% a single user. The caller belongs to the organisation and 5 groups,
so the ACL filter does real work.

Latency is end to end through ``Searcher.search`` (query embedding, both legs, fusion, collapse,
final ACL check), measured on the same queries against every (backend, size) in one run.

    python bench/query.py                       # both backends; OpenSearch at 127.0.0.1:9200
    python bench/query.py --queries 200 --large-chunks 120000

The indexes are built once and reused (``--rebuild`` forces a rebuild): the embedded files in
``var/bench/``, OpenSearch under the ``permindex-bench-*`` prefixes.

Before/after for the embedded backend (issue 14): ``--old-rev`` names the commit whose
``indexer/backends/embedded`` package is copied out of git into a temporary package and opened
on the same file, so the old and the new code answer the same queries alternately in one run.
Query vectors are embedded once up front (their latency is reported on its own line), so the
per-mode numbers are the index's and the searcher's time, not the embedding model's. The first
vector query after a write is timed for both (the old code reloads the whole matrix).
"""

from __future__ import annotations

import argparse
import inspect
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from connectors.directory import GroupMembership, IdentityMapping
from indexer.backend import IndexBackend
from indexer.backends import Stores, open_stores
from indexer.embedding import Embedder, SentenceTransformerEmbedder
from indexer.principals import OrgPolicy
from indexer.records import ChunkWrite, DocumentWrite, SearchFilters
from indexer.settings import EmbeddedSettings, EmbeddingSettings, IndexSettings, OpenSearchSettings
from retrieval.evaluation.beir import BeirDocument, iter_corpus, load_queries
from retrieval.evaluation.ingest import VectorCache, embed_with_cache
from retrieval.identity import IdentityResolver
from retrieval.models import SearchMode, SearchQuery
from retrieval.searcher import Searcher
from retrieval.settings import RetrievalSettings

SOURCE = "bench"
MODEL = "all-MiniLM-L6-v2"
TENANT = "bench"
MODES: list[SearchMode] = ["keyword", "vector", "hybrid"]
GROUPS = [f"group:{SOURCE}:team-{i:02d}" for i in range(50)]
CALLER = "caller@bench.example"
CALLER_PRINCIPALS = frozenset({f"org:{TENANT}", f"user:{CALLER}", *GROUPS[:5]})
SYNTHETIC_CHUNKS_PER_DOC = 4
NOISE = 0.02
T0 = datetime(2024, 1, 1, tzinfo=UTC)
# The last commit before the issue-14 embedded query path: the "old" side of the comparison.
OLD_REV = "c054ec3"

console = Console()


class _NullAudit:
    def record(self, record: object) -> None:
        return None


def _acl(rng: random.Random) -> frozenset[str]:
    draw = rng.random()
    if draw < 0.4:
        return frozenset({f"org:{TENANT}"})
    if draw < 0.9:
        return frozenset({rng.choice(GROUPS)})
    return frozenset({f"user:person{rng.randrange(500)}@bench.example"})


def _corpus_vectors(
    corpus: list[BeirDocument], embedder: Embedder, cache: Path
) -> npt.NDArray[np.float32]:
    """The abstracts' vectors, shared with ``permindex eval``'s vector cache when it has them."""
    started = time.perf_counter()
    vectors, cached = embed_with_cache(corpus, embedder, MODEL, store := VectorCache(cache))
    store.save()
    if cached < len(corpus):
        console.print(
            f"embedded {len(corpus) - cached} abstracts in {time.perf_counter() - started:.0f} s "
            f"(cached in {cache})"
        )
    return np.stack(vectors)


def _sentences(text: str) -> list[str]:
    parts = [s.strip() for s in text.replace("? ", "?|").replace(". ", ".|").split("|")]
    return [p for p in parts if p] or [text]


def _documents(
    corpus: list[BeirDocument], vectors: npt.NDArray[np.float32], target_chunks: int, seed: int
) -> Iterator[DocumentWrite]:
    """The real abstracts (one chunk each), then synthetic documents up to ``target_chunks``."""
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    for document, vector in zip(corpus, vectors, strict=True):
        yield _write(document.id, document.title, [(document.text or document.title, vector)],
                     _acl(rng))  # fmt: skip
    chunks = len(corpus)
    serial = 0
    while chunks < target_chunks:
        base_index = serial % len(corpus)
        base = corpus[base_index]
        sentences = _sentences(base.text or base.title)
        shift = 1 + serial // len(corpus)
        rotated = sentences[shift % len(sentences) :] + sentences[: shift % len(sentences)]
        pieces = [
            " ".join(rotated[i::SYNTHETIC_CHUNKS_PER_DOC]) or base.title
            for i in range(SYNTHETIC_CHUNKS_PER_DOC)
        ]
        chunk_list = []
        for piece in pieces:
            noisy = vectors[base_index] + noise.normal(0.0, NOISE, vectors.shape[1])
            chunk_list.append((piece, (noisy / np.linalg.norm(noisy)).astype(np.float32)))
        yield _write(f"syn-{serial}", f"{base.title} (part {shift})", chunk_list, _acl(rng))
        chunks += len(chunk_list)
        serial += 1


def _write(
    external_id: str,
    title: str,
    chunks: list[tuple[str, npt.NDArray[np.float32]]],
    acl: frozenset[str],
) -> DocumentWrite:
    return DocumentWrite(
        doc_id=f"{SOURCE}:{external_id}",
        source_id=SOURCE,
        external_id=external_id,
        title=title,
        doc_type="abstract",
        content_type="text/plain",
        updated_at=T0,
        acl=acl,
        content_fingerprint=external_id,
        acl_fingerprint=",".join(sorted(acl)),
        chunks=[
            ChunkWrite(index=i, text=text, vector=vector.tolist())
            for i, (text, vector) in enumerate(chunks)
        ],
    )


def _build(
    index: IndexBackend,
    corpus: list[BeirDocument],
    vectors: npt.NDArray[np.float32],
    target_chunks: int,
    rebuild: bool,
    label: str,
) -> int:
    stats = index.stats()
    if not rebuild and stats.chunks >= target_chunks and stats.documents > 0:
        console.print(f"{label}: reusing {stats.chunks} chunks / {stats.documents} documents")
        return stats.chunks
    if stats.documents:
        index.delete_documents([fp.doc_id for fp in index.iter_fingerprints(SOURCE)])
    started = time.perf_counter()
    batch: list[DocumentWrite] = []
    written = 0
    for document in _documents(corpus, vectors, target_chunks, seed=11):
        batch.append(document)
        if len(batch) >= 250:
            written += _flush(index, batch)
            batch = []
    written += _flush(index, batch)
    index.refresh()
    chunks = index.stats().chunks
    console.print(
        f"{label}: wrote {written} documents, {chunks} chunks in "
        f"{time.perf_counter() - started:.0f} s"
    )
    return chunks


def _flush(index: IndexBackend, batch: list[DocumentWrite]) -> int:
    if not batch:
        return 0
    result = index.write_documents(batch)
    if result.failed:
        raise RuntimeError(f"{len(result.failed)} writes failed, first: {result.failed[0]}")
    return len(result.written)


class _QueryVectors:
    """The model's query vectors, computed once per query text and then reused."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.vectors: dict[str, list[float]] = {}
        self.timings: list[float] = []

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embedder.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        if text not in self.vectors:
            started = time.perf_counter()
            self.vectors[text] = self.embedder.embed_query(text)
            self.timings.append((time.perf_counter() - started) * 1000.0)
        return self.vectors[text]


def _old_embedded_index(rev: str, path: Path, dimension: int) -> IndexBackend:
    """The embedded index as it was at ``rev``, from git, opened on ``path``."""
    root = Path(__file__).resolve().parents[1]
    package = Path(tempfile.mkdtemp(prefix="permindex-old-")) / "old_embedded"
    package.mkdir()
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{rev}:indexer/backends/embedded"],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for name in names:
        source = subprocess.run(
            ["git", "show", f"{rev}:indexer/backends/embedded/{name}"],
            cwd=root, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        (package / name).write_text(source.replace("indexer.backends.embedded.", "old_embedded."))
    sys.path.insert(0, str(package.parent))
    from old_embedded.database import Database as OldDatabase  # type: ignore[import-not-found]
    from old_embedded.index import EmbeddedIndex as OldIndex  # type: ignore[import-not-found]

    index = OldIndex(OldDatabase(path), dimension)
    if "highlight" in inspect.signature(index.keyword_search).parameters:
        return cast(IndexBackend, index)
    return cast(IndexBackend, _MarksInLegs(index))


class _MarksInLegs:
    """An index from before the searcher marked only the returned page: its keyword leg marks
    the whole pool, as it did then, and the page keeps those marks (``highlights`` adds none)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def keyword_search(self, *args: Any, highlight: bool = True) -> Any:
        return self.inner.keyword_search(*args)

    def hybrid_candidates(self, *args: Any, highlight: bool = True) -> Any:
        return self.inner.hybrid_candidates(*args)

    def highlights(self, *args: Any) -> dict[str, list[str]]:
        return {}


def _summary(values: list[float]) -> dict[str, float]:
    array = np.asarray(values)
    return {
        "p50_ms": float(np.percentile(array, 50)),
        "p95_ms": float(np.percentile(array, 95)),
        "mean_ms": float(array.mean()),
    }


def _side_by_side(
    searchers: dict[str, Searcher], queries: list[str], mode: SearchMode, warmup: int = 3
) -> dict[str, dict[str, float]]:
    """Each query through every searcher in turn, the order alternating query by query."""
    names = list(searchers)
    for text in queries[:warmup]:
        for name in names:
            searchers[name].search(
                CALLER_PRINCIPALS, SearchQuery(query=text, mode=mode), caller=CALLER
            )
    timings: dict[str, list[float]] = {name: [] for name in names}
    results: dict[str, list[list[str]]] = {name: [] for name in names}
    marks: dict[str, list[dict[str, list[str]]]] = {name: [] for name in names}
    for i, text in enumerate(queries):
        for name in names if i % 2 == 0 else names[::-1]:
            started = time.perf_counter()
            response = searchers[name].search(
                CALLER_PRINCIPALS, SearchQuery(query=text, mode=mode, top_k=10), caller=CALLER
            )
            timings[name].append((time.perf_counter() - started) * 1000.0)
            results[name].append([r.doc_id for r in response.results])
            marks[name].append({r.chunk_id: r.highlights for r in response.results})
    out: dict[str, dict[str, float]] = {}
    for name in names:
        out[name] = _summary(timings[name])
        out[name]["mean_results"] = float(statistics.fmean(len(r) for r in results[name]))
    if len(names) == 2:
        same = sum(a == b for a, b in zip(results[names[0]], results[names[1]], strict=True))
        out["same_top10_share"] = {"value": same / len(queries)}
        # Highlights of the chunks both returned: the page's marks must not change.
        equal = sum(
            all(a[chunk] == b[chunk] for chunk in a.keys() & b.keys())
            for a, b in zip(marks[names[0]], marks[names[1]], strict=True)
        )
        out["same_highlights_share"] = {"value": equal / len(queries)}
    return out


def _first_query_after_write(
    indexes: dict[str, IndexBackend], writer: IndexBackend, vector: list[float], rounds: int = 5
) -> dict[str, dict[str, float]]:
    """One document written, then one vector query per index, ``rounds`` times."""
    for index in indexes.values():  # warm: the timed query follows a write, not a cold open
        index.vector_search(vector, CALLER_PRINCIPALS, SearchFilters(), 100)
    names = list(indexes)
    timings: dict[str, list[float]] = {name: [] for name in names}
    written: list[str] = []
    for i in range(rounds):
        probe = _write(f"probe-{i}", "probe", [("probe text", np.asarray(vector, np.float32))],
                       frozenset({f"org:{TENANT}"}))  # fmt: skip
        _flush(writer, [probe])
        written.append(probe.doc_id)
        for name in names if i % 2 == 0 else names[::-1]:
            started = time.perf_counter()
            indexes[name].vector_search(vector, CALLER_PRINCIPALS, SearchFilters(), 100)
            timings[name].append((time.perf_counter() - started) * 1000.0)
    writer.delete_documents(written)
    return {name: _summary(values) for name, values in timings.items()}


def _measure(
    searcher: Searcher, queries: list[str], mode: SearchMode, warmup: int = 5
) -> dict[str, float]:
    for text in queries[:warmup]:
        searcher.search(CALLER_PRINCIPALS, SearchQuery(query=text, mode=mode), caller=CALLER)
    timings: list[float] = []
    results: list[int] = []
    for text in queries:
        started = time.perf_counter()
        response = searcher.search(
            CALLER_PRINCIPALS, SearchQuery(query=text, mode=mode, top_k=10), caller=CALLER
        )
        timings.append((time.perf_counter() - started) * 1000.0)
        results.append(len(response.results))
    values = np.asarray(timings)
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "mean_ms": float(values.mean()),
        "mean_results": float(statistics.fmean(results)),
    }


def _open(backend: str, size: str, dimension: int, args: argparse.Namespace) -> Stores:
    if backend == "opensearch":
        settings = IndexSettings(
            opensearch=OpenSearchSettings(
                url=args.opensearch, index_prefix=f"permindex-bench-{size}"
            )
        )
    else:
        path = args.index_dir / f"query-{size}.sqlite"
        settings = IndexSettings(embedded=EmbeddedSettings(path=path))
    return open_stores(settings, dimension)


def _directory(stores: Stores, groups: int = 200, users: int = 2000) -> None:
    """A directory shaped like a company's: every user in 3 teams, teams nested three deep
    (team -> department -> division), the caller's account mapped from a second source."""
    teams = [f"group:{SOURCE}:team-{i:03d}" for i in range(groups)]
    departments = [f"group:{SOURCE}:dept-{i:02d}" for i in range(groups // 10)]
    divisions = [f"group:{SOURCE}:div-{i}" for i in range(4)]
    members: dict[str, set[str]] = {g: set() for g in teams + departments + divisions}
    rng = random.Random(7)
    for u in range(users):
        for team in rng.sample(teams, 3):
            members[team].add(f"user:user{u}@bench.example")
    for team in rng.sample(teams, 5):
        members[team].add(f"user:{CALLER}")
    for i, team in enumerate(teams):
        members[departments[i % len(departments)]].add(team)
    for i, department in enumerate(departments):
        members[divisions[i % len(divisions)]].add(department)
    stores.directory.replace_groups(
        SOURCE,
        [GroupMembership(group=g, members=frozenset(m)) for g, m in members.items() if m],
    )
    stores.directory.replace_identities(
        "chat", [IdentityMapping(account="account:chat:U1", email=CALLER)]
    )


def _identity(args: argparse.Namespace) -> dict[str, Any]:
    """Identity resolution per query on OpenSearch, without and with the per-caller cache
    (alternating call by call); the cached side still reads the directory generation."""
    settings = IndexSettings(
        opensearch=OpenSearchSettings(url=args.opensearch, index_prefix="permindex-bench-identity")
    )
    stores = open_stores(settings, 384)
    try:
        _directory(stores)
        uncached = IdentityResolver(stores.directory, OrgPolicy(tenant=TENANT), cache_size=0)
        cached = IdentityResolver(stores.directory, OrgPolicy(tenant=TENANT))
        expected = uncached.resolve(CALLER)
        assert cached.resolve(CALLER) == expected
        timings: dict[str, list[float]] = {"uncached": [], "cached": []}
        for i in range(args.identity_rounds):
            pair = [("uncached", uncached), ("cached", cached)]
            for name, resolver in pair if i % 2 == 0 else pair[::-1]:
                started = time.perf_counter()
                principals = resolver.resolve(CALLER)
                timings[name].append((time.perf_counter() - started) * 1000.0)
                assert principals == expected
    finally:
        stores.close()
    summary = {
        name: {
            "p50_ms": float(np.percentile(values, 50)),
            "p95_ms": float(np.percentile(values, 95)),
            "mean_ms": float(np.mean(values)),
        }
        for name, values in timings.items()
    }
    summary["principals"] = {"count": float(len(expected))}
    summary["p50_ratio_cached_over_uncached"] = {
        "value": summary["cached"]["p50_ms"] / summary["uncached"]["p50_ms"]
    }
    console.print(
        f"identity resolution on OpenSearch ({len(expected)} principals), p50 / p95 ms: "
        f"uncached {summary['uncached']['p50_ms']:.1f} / {summary['uncached']['p95_ms']:.1f}, "
        f"cached {summary['cached']['p50_ms']:.1f} / {summary['cached']['p95_ms']:.1f}, "
        f"ratio {summary['p50_ratio_cached_over_uncached']['value']:.3f}"
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=Path("../shared/datasets/scifact"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--large-chunks", type=int, default=100_000)
    parser.add_argument("--opensearch", default="http://127.0.0.1:9200")
    parser.add_argument("--backends", default="embedded,opensearch")
    parser.add_argument("--index-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--vector-cache", type=Path, default=Path("var/eval/beir-scifact.vectors.npz")
    )
    parser.add_argument("--json", type=Path, default=Path("bench/results/query.json"))
    parser.add_argument(
        "--identity-only", action="store_true", help="Only identity resolution (OpenSearch)."
    )
    parser.add_argument("--identity-rounds", type=int, default=100)
    parser.add_argument(
        "--old-rev", default=OLD_REV, help="Commit of the old embedded code ('' to skip it)."
    )
    parser.add_argument("--after-write-rounds", type=int, default=5)
    args = parser.parse_args(argv)
    args.index_dir.mkdir(parents=True, exist_ok=True)
    identity = _identity(args) if "opensearch" in args.backends else None
    if args.identity_only:
        out = args.json.with_name(f"{args.json.stem}_identity.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"identity": identity}, indent=2))
        console.print(f"wrote {out}")
        return 0

    model = SentenceTransformerEmbedder(EmbeddingSettings(model=MODEL))
    embedder = _QueryVectors(model)
    corpus = list(iter_corpus(args.dataset))
    vectors = _corpus_vectors(corpus, model, args.vector_cache)
    queries = list(load_queries(args.dataset, args.split).values())[: args.queries]
    for text in queries:
        embedder.embed_query(text)
    query_embedding = _summary(embedder.timings)
    console.print(
        f"query embedding ({MODEL}, torch): p50 {query_embedding['p50_ms']:.1f} ms, "
        f"p95 {query_embedding['p95_ms']:.1f} ms (excluded from the per-mode numbers below)"
    )
    sizes = {"scifact": len(corpus), "large": args.large_chunks}
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    results: dict[str, Any] = {}
    for size, target in sizes.items():
        for backend in backends:
            label = f"{backend}/{size}"
            stores = _open(backend, size, embedder.dimension, args)
            old_index: IndexBackend | None = None
            try:
                chunks = _build(stores.index, corpus, vectors, target, args.rebuild, label)
                stores.index.refresh()
                searcher = Searcher(stores.index, embedder, RetrievalSettings(), audit=_NullAudit())
                row: dict[str, Any] = {"backend": backend, "size": size, "chunks": chunks}
                if backend == "embedded" and args.old_rev:
                    path = args.index_dir / f"query-{size}.sqlite"
                    old_index = _old_embedded_index(args.old_rev, path, embedder.dimension)
                    old = Searcher(old_index, embedder, RetrievalSettings(), audit=_NullAudit())
                    both = {"new": searcher, "old": old}
                    per_mode = {}
                    old_modes = {}
                    for mode in MODES:
                        measured = _side_by_side(both, queries, mode)
                        per_mode[mode] = measured["new"]
                        old_modes[mode] = measured["old"]
                        per_mode[mode]["same_top10_as_old"] = measured["same_top10_share"]["value"]
                        per_mode[mode]["same_highlights_as_old"] = measured[
                            "same_highlights_share"
                        ]["value"]
                        console.print(
                            f"{label} {mode}: p50 / p95 ms old {measured['old']['p50_ms']:.1f} /"
                            f" {measured['old']['p95_ms']:.1f}, new {measured['new']['p50_ms']:.1f}"
                            f" / {measured['new']['p95_ms']:.1f}, p95 ratio old/new "
                            f"{measured['old']['p95_ms'] / measured['new']['p95_ms']:.2f}, same "
                            f"top 10 {measured['same_top10_share']['value']:.0%}, same highlights "
                            f"{measured['same_highlights_share']['value']:.0%}"
                        )
                    row["old_rev"] = args.old_rev
                    row["old_modes"] = old_modes
                    row["p95_ratio_old_over_new"] = {
                        mode: old_modes[mode]["p95_ms"] / per_mode[mode]["p95_ms"] for mode in MODES
                    }
                    after = _first_query_after_write(
                        {"new": stores.index, "old": old_index},
                        stores.index,
                        embedder.embed_query(queries[0]),
                        args.after_write_rounds,
                    )
                    row["first_vector_query_after_write"] = after
                    console.print(
                        f"{label} first vector query after a write, p50 ms: old (full reload) "
                        f"{after['old']['p50_ms']:.1f}, new (incremental) "
                        f"{after['new']['p50_ms']:.1f}, ratio "
                        f"{after['old']['p50_ms'] / after['new']['p50_ms']:.1f}"
                    )
                else:
                    per_mode = {mode: _measure(searcher, queries, mode) for mode in MODES}
                row["modes"] = per_mode
            finally:
                if old_index is not None:
                    old_index.close()
                stores.close()
            results[label] = row

    table = Table(title=f"Query latency, {len(queries)} SciFact {args.split} queries, top 10")
    table.add_column("mode")
    for label, row in results.items():
        table.add_column(f"{label}\n{row['chunks']:,} chunks\np50 / p95 ms", justify="right")
    for mode in MODES:
        table.add_row(
            mode,
            *(f"{r['modes'][mode]['p50_ms']:.1f} / {r['modes'][mode]['p95_ms']:.1f}"
              for r in results.values()),
        )  # fmt: skip
    console.print(table)
    ratios: dict[str, dict[str, float]] = {}
    if {"embedded", "opensearch"} <= set(backends):
        for size in sizes:
            ratios[size] = {
                mode: results[f"opensearch/{size}"]["modes"][mode]["p50_ms"]
                / results[f"embedded/{size}"]["modes"][mode]["p50_ms"]
                for mode in MODES
            }
            console.print(
                f"p50 ratio opensearch / embedded at {size}: "
                + ", ".join(f"{m} {r:.2f}" for m, r in ratios[size].items())
            )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "command": "python bench/query.py " + " ".join(argv or sys.argv[1:]),
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "queries": len(queries),
                "noise_sigma": NOISE,
                "results": results,
                "p50_ratio_opensearch_over_embedded": ratios,
                "identity": identity,
                "query_embedding": query_embedding,
                "latency_excludes_query_embedding": True,
            },
            indent=2,
        )
    )
    console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
