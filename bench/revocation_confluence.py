"""Revocation latency of the Confluence connector: restriction change -> hidden in search.

A restriction change bumps no version, so only a permissions run applies it; under the default
schedule (``SourceSchedule().permissions``) the change waits for the next one. The script syncs a
site of ``--pages`` pages on the emulator (embedded backend), adds a group restriction on the
root of a subtree, then runs permissions runs back to back until an outsider no longer finds any
page of the subtree, and reports the measured run time plus the schedule's wait:

    worst = interval + permissions run,   mean = interval / 2 + permissions run

Usage: ``python3 -m bench.revocation_confluence [--pages 200] [--out PATH]``; prints one JSON
line and writes it to ``bench/results/revocation_confluence.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from indexer.backends.embedded import open_embedded  # noqa: E402
from indexer.runner import RunType  # noqa: E402
from indexer.settings import EmbeddedSettings  # noqa: E402
from schedules.settings import SourceSchedule  # noqa: E402
from tests.connectors.confluence.helpers import EMBEDDER, connector, found, run  # noqa: E402
from tests.emulators.confluence import ConfluenceEmulator  # noqa: E402

RESULTS = REPO / "bench" / "results"


def measure(pages: int) -> dict[str, Any]:
    with ConfluenceEmulator(seed=11) as site, tempfile.TemporaryDirectory() as work:
        home = next(c.id for c in site.state.contents.values() if c.title == "Engineering home")
        parents = [home]
        for n in range(pages):
            parent = parents[n % len(parents)]
            parents.append(site.add("ENG", f"Subtree {n}", f"<p>zircon note {n}</p>", parent))
        stores = open_embedded(EmbeddedSettings(path=Path(work) / "index.db"), EMBEDDER.dimension)
        stores.index.ensure_schema()
        conn = connector(site, page_size=100)
        assert run(conn, stores, RunType.groups).status == "succeeded"
        started = time.perf_counter()
        assert run(conn, stores, RunType.full).status == "succeeded"
        full_s = time.perf_counter() - started
        assert found(stores, "zircon", "carol@acme.com")
        site.restrict(home, groups=[site.group_ids["eng"]])
        changed = time.perf_counter()
        runs = 0
        while found(stores, "zircon", "carol@acme.com"):
            runs += 1
            if runs > 3:
                raise RuntimeError("the restriction never reached search")
            assert run(conn, stores, RunType.permissions).status == "succeeded"
        hidden_s = time.perf_counter() - changed
        assert found(stores, "zircon", "bob@acme.com")  # eng still sees it
        interval = SourceSchedule().permissions
        assert interval is not None
        interval_s = interval.total_seconds()
        stores.close()
        return {
            "bench": "revocation_confluence",
            "pages": pages + 7,
            "full_sync_s": round(full_s, 2),
            "permissions_runs": runs,
            "permissions_run_s": round(hidden_s, 2),
            "schedule_permissions_interval_s": interval_s,
            "latency_worst_s": round(interval_s + hidden_s, 1),
            "latency_mean_s": round(interval_s / 2 + hidden_s, 1),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS / "revocation_confluence.json")
    args = parser.parse_args()
    result = measure(args.pages)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
