"""Revocation and late-reply latency of the Slack connector, end to end on the emulator.

Revocation: a private channel member is removed; channel membership is a group, so the next
groups run applies it (a permissions run is not needed). Late reply: a reply to a month-old
thread; the next incremental run finds it by polling the threads it tracks. Under the default
schedule (``SourceSchedule()``) each change waits for the next run of its type:

    worst = interval + run,   mean = interval / 2 + run

The workspace has ``--channels`` channels (one private) of ``--threads`` threads each (three
replies, a month old to today) and as many loose messages; embedded backend, hashing embedder.

Usage: ``python3 -m bench.revocation_slack [--channels 10] [--threads 40] [--out PATH]``; prints
one JSON line and writes it to ``bench/results/revocation_slack.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from connectors.slack.gateway import METHOD_TIERS, TIER_PER_MINUTE  # noqa: E402
from indexer.backends.embedded import open_embedded  # noqa: E402
from indexer.runner import RunType  # noqa: E402
from indexer.settings import EmbeddedSettings  # noqa: E402
from schedules.settings import SourceSchedule  # noqa: E402
from tests.connectors.slack.workspace import DAY, EMBEDDER, Harness  # noqa: E402
from tests.emulators.slack import SlackEmulator  # noqa: E402

RESULTS = REPO / "bench" / "results"


def _paced(calls: Counter[str]) -> float:
    """Seconds the busiest method's tier budget needs for ``calls`` beyond its saved minute."""
    waits = [0.0]
    for method, count in calls.items():
        per_minute = TIER_PER_MINUTE[METHOD_TIERS.get(method, 2)]
        waits.append(max(0.0, count - per_minute) * 60.0 / per_minute)
    return max(waits)


def _timed(harness: Harness, run_type: RunType) -> float:
    started = time.perf_counter()
    record = harness.run(run_type)
    assert record.status == "succeeded", record.message
    return time.perf_counter() - started


def measure(channels: int, threads: int) -> dict[str, Any]:
    now = time.time()
    with SlackEmulator(seed=5) as slack, tempfile.TemporaryDirectory() as work:
        people = [slack.add_user(f"Person {n}", f"p{n}@acme.com").id for n in range(20)]
        ids = []
        for c in range(channels):
            private = c == 0
            ids.append(slack.add_channel(f"chan{c}", people[: 10 + c % 10], is_private=private).id)
            for t in range(threads):
                at = now - 31 * DAY + t * (30 * DAY / threads)
                word = "obsidian" if private else "quartz"
                root = slack.post(ids[-1], people[t % 10], f"topic {c}-{t} {word}", at)
                for r in range(3):
                    slack.reply(ids[-1], root.ts, people[r], f"answer {r} on {c}-{t}", at + r + 1)
                slack.post(ids[-1], people[t % 7], f"loose note {c}-{t}", at + 100)
        stores = open_embedded(EmbeddedSettings(path=Path(work) / "index.db"), EMBEDDER.dimension)
        stores.index.ensure_schema()
        harness = Harness(slack, stores)
        groups_s = _timed(harness, RunType.groups)
        full_s = _timed(harness, RunType.full)
        documents = sum(1 for _ in stores.index.iter_fingerprints("chat"))
        calls_before = len(slack.calls)
        incremental_idle_s = _timed(harness, RunType.incremental)
        by_method = Counter(c.route for c in slack.calls[calls_before:])
        incremental_calls = sum(by_method.values())

        # Revocation: p1 leaves the private channel.
        victim = "p1@acme.com"
        assert harness.found(victim, "obsidian")
        slack.state.channels[ids[0]].members.remove(people[1])
        changed = time.perf_counter()
        groups_runs = 0
        while harness.found(victim, "obsidian"):
            groups_runs += 1
            _timed(harness, RunType.groups)
        revoke_s = time.perf_counter() - changed

        # Late reply to the oldest thread of the last channel.
        root = slack.state.channels[ids[-1]].messages[0]
        slack.reply(ids[-1], root.ts, people[2], "late zeppelin reply", time.time())
        changed = time.perf_counter()
        incrementals = 0
        while not harness.found("p2@acme.com", "zeppelin"):
            incrementals += 1
            _timed(harness, RunType.incremental)
        late_s = time.perf_counter() - changed
        stores.close()
    schedule = SourceSchedule()
    assert schedule.groups is not None and schedule.incremental is not None
    groups_interval = schedule.groups.total_seconds()
    incremental_interval = schedule.incremental.total_seconds()
    return {
        "bench": "revocation_slack",
        "channels": channels,
        "threads_per_channel": threads,
        "documents": documents,
        "groups_run_s": round(groups_s, 2),
        "full_sync_s": round(full_s, 2),
        "idle_incremental_s": round(incremental_idle_s, 2),
        "idle_incremental_api_calls": incremental_calls,
        "idle_incremental_calls_by_method": dict(sorted(by_method.items())),
        # The gateway's tier budgets (a minute's worth saved up, then the tier's rate): the
        # least time the same calls take against real Slack, whatever the machine.
        "idle_incremental_tier_paced_s": round(_paced(by_method), 1),
        "revocation_groups_runs": groups_runs,
        "revocation_run_s": round(revoke_s, 2),
        "schedule_groups_interval_s": groups_interval,
        "revocation_worst_s": round(groups_interval + revoke_s, 1),
        "revocation_mean_s": round(groups_interval / 2 + revoke_s, 1),
        "late_reply_incrementals": incrementals,
        "late_reply_run_s": round(late_s, 2),
        "schedule_incremental_interval_s": incremental_interval,
        "late_reply_worst_s": round(incremental_interval + late_s, 1),
        "late_reply_mean_s": round(incremental_interval / 2 + late_s, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--threads", type=int, default=40)
    parser.add_argument("--out", type=Path, default=RESULTS / "revocation_slack.json")
    args = parser.parse_args()
    result = measure(args.channels, args.threads)
    line = json.dumps(result)
    print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(line + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
