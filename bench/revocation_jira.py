"""Revocation latency of the Jira connector, per change type: change -> hidden in search.

A site of ``--issues`` issues on the emulator (embedded backend) is synced; then each change
below is made to one issue and the runs the default schedule (``SourceSchedule()``) would start
are run back to back, in the order they would come, until a person who lost access no longer
finds the issue. Latency is the schedule's wait plus the measured runs:

    worst = interval of the run that applies it + the runs' time,   mean = interval / 2 + time

- ``level_set``: the issue is put at a security level it was not at (moves ``updated``):
  the next incremental run applies it.
- ``level_members``: a security level loses the project lead (no ``updated``): a permissions run.
- ``scheme_grant``: a project's permission scheme loses a group's browse grant: a permissions run.
- ``group_member``: a person leaves a group: a groups run (the group is resolved at query time;
  layered issues are recomputed by the permissions pass the runner starts after it).
- ``moved_project``: the issue is moved to a project the person cannot browse: incremental.
- ``deleted``: the issue is deleted: the next permissions run hides it (nobody), pruning removes it.

Usage: ``python3 -m bench.revocation_jira [--issues 200] [--out PATH]``; prints one JSON line
and writes it to ``bench/results/revocation_jira.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from indexer.backends.embedded import open_embedded  # noqa: E402
from indexer.runner import RunType  # noqa: E402
from indexer.settings import EmbeddedSettings  # noqa: E402
from schedules.settings import SourceSchedule  # noqa: E402
from tests.connectors.jira.harness import BROWSE, EMBEDDER, Harness, Site, seed_site  # noqa: E402
from tests.emulators.jira import JiraEmulator  # noqa: E402

RESULTS = REPO / "bench" / "results"


def _interval_s(run_type: RunType) -> float:
    interval = getattr(SourceSchedule(), run_type.value)
    assert interval is not None, f"{run_type.value} runs are off by default"
    return float(interval.total_seconds())


def measure(issues: int) -> dict[str, Any]:
    with JiraEmulator(seed=12) as jira, tempfile.TemporaryDirectory() as work:
        site = seed_site(jira)
        for n in range(issues):
            project = site.eng_project if n % 2 else site.ops_project
            jira.add_issue(project, f"Filler {n}", f"routine filler text {n}", site.bob)
        stores = open_embedded(EmbeddedSettings(path=Path(work) / "index.db"), EMBEDDER.dimension)
        stores.index.ensure_schema()
        harness = Harness(jira, stores)
        started = time.perf_counter()
        harness.sync()
        full_s = time.perf_counter() - started

        def level_set(s: Site) -> None:
            jira.edit_issue(s.login, level=s.leads_level)

        def level_members(s: Site) -> None:
            jira.state.levels[s.leads_level] = ("10000", [("group", s.sales)])

        def scheme_grant(s: Site) -> None:
            jira.state.schemes[s.ops_scheme] = [(BROWSE, "group", s.sales)]

        def group_member(s: Site) -> None:
            jira.state.groups[s.eng][1].discard(s.alice)

        def moved_project(s: Site) -> None:
            jira.edit_issue(s.runbook, project_id=s.eng_project)

        def deleted(s: Site) -> None:
            jira.delete_issue(s.login)

        # (change, who loses, query, the runs the schedule would start, in order)
        cases: list[tuple[str, Callable[[Site], None], str, str, tuple[RunType, ...]]] = [
            ("level_set", level_set, "bob@acme.com", "login sessions", (RunType.incremental,)),
            ("level_members", level_members, "alice@acme.com", "pricing", (RunType.permissions,)),
            ("scheme_grant", scheme_grant, "dave@acme.com", "escalation", (RunType.permissions,)),
            ("group_member", group_member, "alice@acme.com", "login", (RunType.groups,)),
            (
                "moved_project",
                moved_project,
                "carol@acme.com",
                "escalation",
                (RunType.incremental,),
            ),
            ("deleted", deleted, "alice@acme.com", "login sessions", (RunType.permissions,)),
        ]
        results: dict[str, Any] = {}
        for name, change, email, query, runs in cases:
            jira.reset()
            site = seed_site(jira)
            for n in range(issues):
                project = site.eng_project if n % 2 else site.ops_project
                jira.add_issue(project, f"Filler {n}", f"routine filler text {n}", site.bob)
            with tempfile.TemporaryDirectory() as case_dir:
                case_stores = open_embedded(
                    EmbeddedSettings(path=Path(case_dir) / "index.db"), EMBEDDER.dimension
                )
                case_stores.index.ensure_schema()
                case = Harness(jira, case_stores)
                case.sync()
                assert case.found(email, query), (name, "visible before the change")
                change(site)
                took = 0.0
                applied_by: list[str] = []
                for run_type in runs:
                    begun = time.perf_counter()
                    case.run(run_type)
                    took += time.perf_counter() - begun
                    applied_by.append(run_type.value)
                    if not case.found(email, query):
                        break
                assert not case.found(email, query), (name, "still visible after its runs")
                interval = max(_interval_s(r) for r in runs)
                results[name] = {
                    "applied_by": applied_by,
                    "runs_s": round(took, 2),
                    "schedule_interval_s": interval,
                    "latency_worst_s": round(interval + took, 1),
                    "latency_mean_s": round(interval / 2 + took, 1),
                }
                case_stores.close()
        stores.close()
        return {
            "bench": "revocation_jira",
            "issues": issues + 3,
            "full_sync_s": round(full_s, 2),
            "changes": results,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issues", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS / "revocation_jira.json")
    args = parser.parse_args()
    result = measure(args.issues)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
