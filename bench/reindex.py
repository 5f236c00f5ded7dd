"""Re-index with dual writes: what a sync run pays while a re-index is in progress, and how long
the re-index holds writers off.

On a fresh index of ``--size`` synthetic documents (``hashing:64``, no model):

1. ``baseline``: ``--edits`` content edits at the source, then an incremental run (docs/s).
2. ``dual``: a re-index is started and stopped at its first page (the marker stays set, as
   after a kill), then the same edits and run, every write going to both indices; the re-index
   is then aborted. The ratio dual/baseline is the writers' cost of a re-index in progress.
3. ``reindex``: a whole re-index; its copy time, and its last pass (every lease held: the only
   time writers wait) on its own.

Prints the figures and writes JSON to ``bench/results/reindex.json``.

    python bench/reindex.py                       # embedded, 5000 documents
    python bench/reindex.py --backend opensearch --url http://127.0.0.1:9200
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(REPO))

from synthetic_source import SourceState, SyntheticConnector  # noqa: E402

from indexer.backends import Stores, open_stores  # noqa: E402
from indexer.embedding import HashingEmbedder  # noqa: E402
from indexer.operations import reindex as reindex_module  # noqa: E402
from indexer.operations.reindex import ReindexReport, abort_reindex  # noqa: E402
from indexer.runner import SyncRunner  # noqa: E402
from indexer.settings import (  # noqa: E402
    ChunkingSettings,
    EmbeddedSettings,
    IndexSettings,
    OpenSearchSettings,
)

RESULTS = REPO / "bench" / "results"


class _Stop(BaseException):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


def _run(stores: Stores, connector: SyntheticConnector) -> float:
    started = time.perf_counter()
    record = SyncRunner(
        connector,
        stores,
        HashingEmbedder(64),
        chunking=ChunkingSettings(),
        model_name="hashing:64",
        clock=_now,
    ).run("incremental")
    if record.status != "succeeded":
        raise SystemExit(f"run {record.status}: {record.message}")
    return time.perf_counter() - started


def _reindex(stores: Stores, on_page: Any = None) -> ReindexReport:
    if stores.index.name == "embedded":
        from indexer.operations.reindex_embedded import reindex_embedded

        return reindex_embedded(stores, on_page=on_page)
    from indexer.operations.reindex_opensearch import reindex_opensearch

    return reindex_opensearch(stores, clock=_now, on_page=on_page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["embedded", "opensearch"], default="embedded")
    parser.add_argument("--url", default="http://127.0.0.1:9200")
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--edits", type=int, default=2000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        prefix = f"bench-rx-{uuid.uuid4().hex[:8]}"
        if args.backend == "embedded":
            settings = IndexSettings(embedded=EmbeddedSettings(path=Path(tmp) / "index.sqlite"))
        else:
            node = OpenSearchSettings(url=args.url, index_prefix=prefix)
            settings = IndexSettings(opensearch=node)
        stores = open_stores(settings, 64)
        try:
            state = SourceState(size=args.size)
            connector = SyntheticConnector(state)
            first = _run(stores, connector)

            state.edit_content(args.edits)
            baseline = _run(stores, connector)

            def stop(copied: int) -> None:
                raise _Stop

            with contextlib.suppress(_Stop):
                _reindex(stores, stop)
            state.edit_content(args.edits)
            dual = _run(stores, connector)
            abort_reindex(stores)

            timings: dict[str, float] = {}
            real_verify = reindex_module.Copier.verify

            def timed_verify(self: reindex_module.Copier, tick: Any = None) -> None:
                started = time.perf_counter()
                real_verify(self, tick)
                timings["last_pass_s"] = time.perf_counter() - started

            reindex_module.Copier.verify = timed_verify  # type: ignore[method-assign]
            started = time.perf_counter()
            report = _reindex(stores)
            total = time.perf_counter() - started
        finally:
            stores.close()
            if args.backend == "opensearch":
                from opensearchpy import OpenSearch

                client = OpenSearch(args.url)
                client.indices.delete(index=f"{prefix}*", ignore_unavailable=True)
                client.close()

    result = {
        "backend": args.backend,
        "size": args.size,
        "edits": args.edits,
        "first_sync_s": round(first, 3),
        "baseline_docs_per_s": round(args.edits / baseline, 1),
        "dual_write_docs_per_s": round(args.edits / dual, 1),
        "dual_over_baseline_time": round(dual / baseline, 3),
        "reindex_total_s": round(total, 3),
        "reindex_last_pass_s": round(timings.get("last_pass_s", float("nan")), 3),
        "repaired": report.repaired,
        "documents": report.documents,
        "machine": platform.platform(),
        "at": _now().isoformat(),
    }
    for key, value in result.items():
        print(f"{key}: {value}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"reindex-{args.backend}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
