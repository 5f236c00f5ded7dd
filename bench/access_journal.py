"""What the access journal costs a run: the same runs with and without it, side by side.

One scripted source of N documents on the embedded backend (or OpenSearch with ``--opensearch``)
goes through four runs, each journaling every document: the first incremental (all created), a
permissions run that changes every ACL, a content update under the same ACL (journals nothing,
the common case) and a prune that deletes every document. Each variant runs ``--rounds`` times,
alternating, on fresh stores; the median wall time per run type and the ratio journal/no journal
are printed and written to ``bench/results/access_journal.json``.

    python3 bench/access_journal.py --docs 3000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer import runner as runner_module
from indexer.backends import Stores
from indexer.embedding import HashingEmbedder
from indexer.retry import RetryPolicy
from indexer.runner import SyncRunner
from indexer.settings import ChunkingSettings, EmbeddedSettings, OpenSearchSettings
from tests.connectors.scripted import Doc, ScriptedConnector

RESULTS = Path(__file__).resolve().parent / "results"
EMBEDDER = HashingEmbedder(16)
PHASES = ("created", "acl_changed", "content_same_acl", "deleted")


def _open(opensearch: str | None, workdir: Path) -> tuple[Stores, str | None]:
    if opensearch:
        from indexer.backends.opensearch import open_opensearch

        prefix = f"bench{uuid.uuid4().hex[:10]}"
        stores = open_opensearch(OpenSearchSettings(url=opensearch, index_prefix=prefix), 16)
        return stores, prefix
    from indexer.backends.embedded import open_embedded

    path = workdir / f"{uuid.uuid4().hex}.sqlite"
    return open_embedded(EmbeddedSettings(path=path), 16), None


def _drop(opensearch: str, prefix: str) -> None:
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[opensearch], timeout=30)
    names = list(client.indices.get(index=f"{prefix}*", expand_wildcards="all"))
    if names:
        client.indices.delete(index=",".join(names), ignore_unavailable=True)
    client.close()


def _run(stores: Stores, source: ScriptedConnector, run_type: str) -> float:
    runner = SyncRunner(
        source,
        stores,
        EMBEDDER,
        chunking=ChunkingSettings(chunk_size=64, chunk_overlap=8),
        model_name="hashing",
        clock=lambda: datetime.now(UTC),
        retry=RetryPolicy(attempts=2, sleep=lambda _seconds: None),
    )
    started = time.perf_counter()
    record = runner.run(run_type)
    elapsed = time.perf_counter() - started
    assert record.status == "succeeded", (record.status, record.message)
    stores.index.refresh()
    return elapsed


def _scenario(stores: Stores, docs: int) -> dict[str, float]:
    acl = frozenset({"group:s:all"})
    source = ScriptedConnector(
        source_id="s",
        docs={f"d{i}": Doc(scope="a", body=f"document {i} text", acl=acl) for i in range(docs)},
        scopes=["a"],
    )
    times = {"created": _run(stores, source, "incremental")}
    for doc in source.docs.values():
        doc.acl = frozenset({"group:s:all", "user:bob@acme.com"})
    times["acl_changed"] = _run(stores, source, "permissions")
    for i, doc in enumerate(source.docs.values()):
        doc.body, doc.version = f"document {i} revised text", "2"
    times["content_same_acl"] = _run(stores, source, "incremental")
    source.docs = {}
    times["deleted"] = _run(stores, source, "prune")
    return times


@contextmanager
def _without_journal() -> Iterator[None]:
    saved = runner_module.acl_journal_writer, runner_module.access_journal_for
    runner_module.acl_journal_writer = lambda *a, **k: None
    runner_module.access_journal_for = lambda index: None
    try:
        yield
    finally:
        runner_module.acl_journal_writer, runner_module.access_journal_for = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--opensearch", default=None, help="node URL (default: embedded)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    samples: dict[str, dict[str, list[float]]] = {
        v: {p: [] for p in PHASES} for v in ("journal", "none")
    }
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for variant in ("none", "journal"):
                stores, prefix = _open(args.opensearch, Path(tmp))
                try:
                    with _without_journal() if variant == "none" else nullcontext():
                        times = _scenario(stores, args.docs)
                finally:
                    stores.close()
                    if prefix is not None:
                        _drop(args.opensearch, prefix)
                for phase, seconds in times.items():
                    samples[variant][phase].append(seconds)
    result: dict[str, Any] = {
        "backend": "opensearch" if args.opensearch else "embedded",
        "docs": args.docs,
        "rounds": args.rounds,
        "phases": {},
    }
    print(f"{result['backend']}, {args.docs} documents, median of {args.rounds} rounds")
    print(f"{'run':<18}{'no journal s':>14}{'journal s':>12}{'ratio':>8}")
    for phase in PHASES:
        none = statistics.median(samples["none"][phase])
        journal = statistics.median(samples["journal"][phase])
        result["phases"][phase] = {
            "none_s": round(none, 3),
            "journal_s": round(journal, 3),
            "ratio": round(journal / none, 3),
        }
        print(f"{phase:<18}{none:>14.2f}{journal:>12.2f}{journal / none:>8.2f}")
    out: Path = args.out or RESULTS / f"access_journal_{result['backend']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
