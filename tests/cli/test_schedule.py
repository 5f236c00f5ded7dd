"""``permindex schedule``'s jobs: each source's run types at their intervals, one at a time."""

from __future__ import annotations

import time
from pathlib import Path

from indexer.run_types import RunType
from permindex.config import load_config
from permindex.runtime import open_runtime
from schedules.jobs import SyncScheduler


def test_scheduler_runs_incremental_syncs_and_picks_up_changes(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / ".permindex-acl.yaml").write_text("allow: [org]\n")
    (docs / "a.md").write_text("# A\n\nFirst page.\n")
    (tmp_path / "permindex.yaml").write_text(
        """
tenant: acme
index: {embedded: {path: index.sqlite}}
embedding: {model: "hashing:16"}
sources:
  - {type: folder, id: docs, path: docs}
schedules:
  default: {incremental: 1s, full: null, permissions: null, groups: null}
  sources:
    docs: {groups: 1h}
"""
    )
    config = load_config(tmp_path / "permindex.yaml")
    with open_runtime(config) as runtime:
        scheduler = SyncScheduler(runtime)
        planned = {(source, run_type) for source, run_type, _ in scheduler.jobs}
        # Disabled run types are not scheduled; the per-source override adds groups.
        assert planned == {("docs", RunType.incremental), ("docs", RunType.groups)}
        scheduler.start()
        try:
            # Every job is armed (a job without a next run time would be paused for good).
            assert all(job.next_run_time is not None for job in scheduler.scheduler.get_jobs())
            deadline = time.monotonic() + 30
            while not scheduler.finished and time.monotonic() < deadline:
                time.sleep(0.1)
            (docs / "b.md").write_text("# B\n\nSecond page.\n")
            while time.monotonic() < deadline:
                ids = {fp.external_id for fp in runtime.stores.index.iter_fingerprints("docs")}
                if ids == {"a.md", "b.md"}:
                    break
                time.sleep(0.2)
        finally:
            scheduler.shutdown()
        assert ids == {"a.md", "b.md"}
        assert all(r.status == "succeeded" for r in scheduler.finished)
        assert {r.run_type for r in scheduler.finished} == {"incremental"}
