"""Revocation latency of the Google Drive connector per change type, end to end on the emulators.

Three revocations, each measured from the change at the source to the moment the user can no
longer find the file through the real runner and index:

- file share: a user grant removed from a My Drive file; the Changes API carries it, so the next
  incremental run applies it;
- folder share: a user grant removed from a folder two levels above the file; Drive records a
  change of the folder only, and the incremental run re-resolves the folder's descendants;
- group membership: a user removed from a nested group that a shared drive is shared with; the
  group stays a group in the ACL, so the next groups run applies it.

Under the default schedule (``SourceSchedule()``) each change waits for the next run of its type:

    worst = interval + run,   mean = interval / 2 + run

The tenant has ``--drives`` shared drives of ``--files`` files and four users with ``--files``
My Drive files each; embedded backend, hashing embedder, the real google-api-python-client.

Usage: ``python3 -m bench.revocation_google_drive [--drives 3] [--files 40] [--out PATH]``;
prints one JSON line and writes it to ``bench/results/revocation_google_drive.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from indexer.backends.embedded import open_embedded  # noqa: E402
from indexer.runner import RunType  # noqa: E402
from indexer.settings import EmbeddedSettings  # noqa: E402
from schedules.settings import SourceSchedule  # noqa: E402
from tests.connectors.google_drive.workspace import (  # noqa: E402
    ALICE,
    BOB,
    CAROL,
    DAVE,
    EMBEDDER,
    USERS,
    Workspace,
    emulators,
)

RESULTS = REPO / "bench" / "results"


def _timed(ws: Workspace, run_type: RunType) -> float:
    started = time.perf_counter()
    record = ws.run(run_type)
    assert record.status == "succeeded", record.message
    return time.perf_counter() - started


def _until_hidden(ws: Workspace, run_type: RunType, query: str, email: str) -> tuple[int, float]:
    runs, started = 0, time.perf_counter()
    while ws.found(query, email):
        runs += 1
        _timed(ws, run_type)
        if runs > 5:
            raise AssertionError(f"{email} still finds {query!r} after {runs} runs")
    return runs, time.perf_counter() - started


def measure(drives: int, files: int) -> dict[str, Any]:
    with emulators() as (drive, directory), tempfile.TemporaryDirectory() as work:
        directory.add_group("eng@acme.com", ALICE, "group:platform@acme.com")
        directory.add_group("platform@acme.com", DAVE)
        drive_ids = [
            drive.add_drive(f"Drive {d}", {BOB: "organizer", "group:eng@acme.com": "reader"})
            for d in range(drives)
        ]
        for d, drive_id in enumerate(drive_ids):
            folder = drive.add_folder(f"Folder {d}", drive=drive_id)
            for n in range(files):
                word = "obsidian" if (d, n) == (0, 0) else "quartz"
                drive.add_file(f"d{d}-{n}", f"{word} note {d}-{n}", parent=folder)
        for owner in USERS:
            for n in range(files):
                drive.add_file(f"{owner}-{n}", f"basalt note {n}", owner=owner)
        shared = drive.grant(type="user", email=CAROL)
        plan = drive.add_file("Plan", "zeppelin plan", owner=ALICE, grants=[shared])
        outer = drive.add_folder("Team", owner=BOB)
        inner = drive.add_folder("Reviews", parent=outer)
        drive.add_file("Review", "monsoon review", parent=inner)
        folder_grant = drive.grant(type="user", email=CAROL)
        drive.share(outer, folder_grant)

        stores = open_embedded(EmbeddedSettings(path=Path(work) / "index.db"), EMBEDDER.dimension)
        stores.index.ensure_schema()
        ws = Workspace(drive, directory, stores)
        full_s = _timed(ws, RunType.full)
        groups_s = _timed(ws, RunType.groups)
        documents = sum(1 for _ in stores.index.iter_fingerprints("gdrive"))
        calls_before = len(drive.calls)
        idle_s = _timed(ws, RunType.incremental)
        idle_calls = Counter(c.route for c in drive.calls[calls_before:])

        def revoke(change: Callable[[], None], run_type: RunType, query: str, email: str) -> Any:
            assert ws.found(query, email), f"{email} should find {query!r} before the change"
            change()
            return _until_hidden(ws, run_type, query, email)

        file_runs, file_s = revoke(
            lambda: drive.unshare(plan, shared.id), RunType.incremental, "zeppelin", CAROL
        )
        folder_runs, folder_s = revoke(
            lambda: drive.unshare(outer, folder_grant.id), RunType.incremental, "monsoon", CAROL
        )
        group_runs, group_s = revoke(
            lambda: directory.remove_member("platform@acme.com", DAVE),
            RunType.groups,
            "obsidian",
            DAVE,
        )
        stores.close()
    schedule = SourceSchedule()
    assert schedule.groups is not None and schedule.incremental is not None
    incremental_interval = schedule.incremental.total_seconds()
    groups_interval = schedule.groups.total_seconds()

    def latency(name: str, runs: int, seconds: float, interval: float) -> dict[str, Any]:
        return {
            f"{name}_runs": runs,
            f"{name}_run_s": round(seconds, 2),
            f"{name}_worst_s": round(interval + seconds, 1),
            f"{name}_mean_s": round(interval / 2 + seconds, 1),
        }

    return {
        "bench": "revocation_google_drive",
        "shared_drives": drives,
        "files_per_scope": files,
        "documents": documents,
        "full_sync_s": round(full_s, 2),
        "groups_run_s": round(groups_s, 2),
        "idle_incremental_s": round(idle_s, 2),
        "idle_incremental_api_calls": sum(idle_calls.values()),
        "idle_incremental_calls_by_method": dict(sorted(idle_calls.items())),
        "schedule_incremental_interval_s": incremental_interval,
        "schedule_groups_interval_s": groups_interval,
        **latency("file_share", file_runs, file_s, incremental_interval),
        **latency("folder_share", folder_runs, folder_s, incremental_interval),
        **latency("group_membership", group_runs, group_s, groups_interval),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drives", type=int, default=3)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--out", type=Path, default=RESULTS / "revocation_google_drive.json")
    args = parser.parse_args()
    result = measure(args.drives, args.files)
    line = json.dumps(result)
    print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(line + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
