"""Sync cost at scale: a synthetic change-feed source of 20k and 200k documents on both backends.

For every (backend, size), on a fresh index, four phases, each in its own process so that its
peak RSS is its own:

1. ``first``: the first sync (an incremental run without a checkpoint: every document);
2. ``incremental``: ``--changes`` content edits at the source, then an incremental run;
3. ``permissions``: ``--changes`` ACL edits at the source, then a permissions run;
4. ``prune``: ``--changes`` documents deleted at the source (not in its change feed), then a
   prune run (ids only).

Model-free embedder (``hashing:64``), so the figures are the platform's own costs: reading,
fingerprints, chunking, index look-ups and writes, listing and sweep. Targets: the incremental
costs under 1% of the first sync's time, and its peak RSS does not grow with the source (the
largest size within 1.2x of the smallest). Prints the figures and ratios, writes JSON.

    python bench/sync_scale.py                                   # 20k and 200k, both backends
    python bench/sync_scale.py --sizes 2000,20000 --backends embedded
    python bench/sync_scale.py --phase incremental --size 20000 --backend embedded --workdir D
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
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
from indexer.run_types import RunType  # noqa: E402
from indexer.runner import SyncRunner  # noqa: E402
from indexer.settings import (  # noqa: E402
    ChunkingSettings,
    EmbeddedSettings,
    IndexSettings,
    OpenSearchSettings,
)
from indexer.state_store import RunRecord  # noqa: E402

RESULTS = REPO / "bench" / "results"
DEFAULT_WORKDIR = REPO / "var" / "bench" / "sync_scale"
MODEL = "hashing:64"
DIMENSION = 64
PHASES = ("first", "incremental", "permissions", "prune")
RUN_TYPES = {
    "first": RunType.incremental,
    "incremental": RunType.incremental,
    "permissions": RunType.permissions,
    "prune": RunType.prune,
}
INCREMENTAL_FRACTION_TARGET = 0.01
RSS_GROWTH_TARGET = 1.2


# -- one phase, in its own process -------------------------------------------------------------


class Progress:
    """Prints a line to stderr every ``every`` documents (a 200k first sync takes minutes)."""

    def __init__(self, label: str, every: int = 20_000) -> None:
        self.label = label
        self.every = every
        self.documents = 0
        self.started_at = time.perf_counter()

    def started(self, run_type: str, total: int | None) -> None:
        self.started_at = time.perf_counter()

    def advanced(self, documents: int, chunks: int) -> None:
        before = self.documents
        self.documents += documents
        if self.documents // self.every > before // self.every:
            seconds = time.perf_counter() - self.started_at
            rate = self.documents / seconds if seconds else 0.0
            print(
                f"  {self.label}: {self.documents} documents, {seconds:.0f} s ({rate:.0f}/s), "
                f"RSS {_rss_mb():.0f} MB",
                file=sys.stderr,
                flush=True,
            )

    def finished(self, record: RunRecord) -> None:
        return None


def _rss_mb() -> float:
    """Current resident set size (VmRSS), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def _settings(backend: str, workdir: Path, url: str, prefix: str) -> IndexSettings:
    if backend == "opensearch":
        return IndexSettings(opensearch=OpenSearchSettings(url=url, index_prefix=prefix))
    return IndexSettings(embedded=EmbeddedSettings(path=workdir / "index.sqlite"))


def _mutate(phase: str, state: SourceState, changes: int) -> list[int]:
    if phase == "incremental":
        return state.edit_content(changes)
    if phase == "permissions":
        return state.edit_acls(changes)
    if phase == "prune":
        return state.delete(changes)
    return []


def _expected(phase: str, record: RunRecord, state: SourceState, changes: int) -> str | None:
    """Why the run did not do what the phase asked (None when it did)."""
    counts = record.counts
    want = {
        "first": ("created", state.live_count),
        "incremental": ("updated", changes),
        "permissions": ("acl_updated", changes),
        "prune": ("deleted", changes),
    }[phase]
    got = getattr(counts, want[0])
    if got != want[1]:
        return f"{phase}: expected {want[0]}={want[1]}, got {got} ({counts.model_dump()})"
    if phase != "first" and counts.created:
        return f"{phase}: created {counts.created} documents"
    return None


def run_phase(args: argparse.Namespace) -> dict[str, Any]:
    workdir: Path = args.workdir
    state_path = workdir / "source.json"
    state = SourceState.load(state_path)
    changed = _mutate(args.phase, state, args.changes)
    state.save(state_path)  # the source has changed, whether or not the sync succeeds

    label = f"{args.backend} {args.size} {args.phase}"
    opened = time.perf_counter()
    stores: Stores = open_stores(
        _settings(args.backend, workdir, args.opensearch_url, args.index_prefix), DIMENSION
    )
    open_seconds = time.perf_counter() - opened
    try:
        connector = SyntheticConnector(state, checkpoint_every=args.checkpoint_every)
        runner = SyncRunner(
            connector,
            stores,
            HashingEmbedder(DIMENSION),
            chunking=ChunkingSettings(),
            model_name=MODEL,
            clock=lambda: datetime.now(UTC),
            owner=f"bench-sync-scale-{os.getpid()}",
            progress=Progress(label),
            write_batch_docs=args.write_batch,
        )
        rss_before = _rss_mb()
        profiler = cProfile.Profile() if args.profile else None
        record, seconds, cpu_seconds = _timed(runner, RUN_TYPES[args.phase], profiler)
        peak_after_run = _peak_mb()
        fetched = connector.fetched
        warm: dict[str, Any] | None = None
        if args.phase == "incremental" and record.status == "succeeded":
            # The same run again in this process, now warm (tokenizer loaded, code paths hot):
            # what a long-lived scheduler process pays; the first run is what `permindex sync`
            # pays as a fresh process.
            again = state.edit_content(args.changes)
            state.save(state_path)
            warm_record, warm_seconds, warm_cpu = _timed(runner, RunType.incremental, None)
            warm = {
                "source_changes": len(again),
                "seconds": round(warm_seconds, 4),
                "cpu_seconds": round(warm_cpu, 4),
                "counts": warm_record.counts.model_dump(),
                "status": warm_record.status,
                "peak_rss_mb": round(_peak_mb(), 1),
            }
            problem = _expected(args.phase, warm_record, state, args.changes)
            if warm_record.status != "succeeded" or problem is not None:
                raise SystemExit(f"{label} (warm): {warm_record.message or problem}")
        stats = stores.index.stats()
    finally:
        stores.close()
    if record.status != "succeeded":
        raise SystemExit(f"{label}: run {record.status}: {record.message}")
    problem = _expected(args.phase, record, state, args.changes)
    if problem is not None:
        raise SystemExit(problem)
    if profiler is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        dump = args.profile / f"{args.backend}-{args.size}-{args.phase}.prof"
        profiler.dump_stats(str(dump))
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        print(text.getvalue(), file=sys.stderr, flush=True)
    return {
        "phase": args.phase,
        "backend": args.backend,
        "size": args.size,
        "run_type": RUN_TYPES[args.phase].value,
        "source_changes": len(changed),
        "seconds": round(seconds, 4),
        "cpu_seconds": round(cpu_seconds, 4),  # this process only (not the OpenSearch node)
        "open_seconds": round(open_seconds, 4),
        "counts": record.counts.model_dump(),
        "documents_fetched": fetched,
        "changes_checkpoint_received": _value(connector.received_changes),
        "permissions_checkpoint_received": _value(connector.received_permissions),
        "index_documents": stats.documents,
        "index_chunks": stats.chunks,
        "rss_before_run_mb": round(rss_before, 1),
        # The whole process's peak (imports and store opening included) when the run ended.
        "peak_rss_mb": round(peak_after_run, 1),
        "warm_rerun": warm,
    }


def _timed(
    runner: SyncRunner, run_type: RunType, profiler: cProfile.Profile | None
) -> tuple[RunRecord, float, float]:
    started_cpu = time.process_time()
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    try:
        record = runner.run(run_type)
    finally:
        if profiler is not None:
            profiler.disable()
    return record, time.perf_counter() - started, time.process_time() - started_cpu


def _value(checkpoint: Any) -> Any:
    return None if checkpoint is None else checkpoint.value


# -- the orchestrating parent ------------------------------------------------------------------


def delete_opensearch_indices(url: str, prefix: str) -> None:
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[url], timeout=60)
    try:
        # Names resolved first: deleting by wildcard may be refused (destructive_requires_name).
        names = list(client.indices.get(index=f"{prefix}*", expand_wildcards="all"))
        if names:
            client.indices.delete(index=",".join(names), ignore_unavailable=True)
    finally:
        client.close()


def _child(
    args: argparse.Namespace, phase: str, backend: str, size: int, workdir: Path, prefix: str
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--phase", phase,
        "--backend", backend,
        "--size", str(size),
        "--workdir", str(workdir),
        "--index-prefix", prefix,
        "--opensearch-url", args.opensearch_url,
        "--changes", str(args.changes),
        "--write-batch", str(args.write_batch),
        "--checkpoint-every", str(args.checkpoint_every),
    ]  # fmt: skip
    if args.profile is not None:
        command += ["--profile", str(args.profile)]
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"{backend} {size} {phase}: the phase process exited {done.returncode}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(time.perf_counter() - started, 3)
    return result


def run_size(args: argparse.Namespace, backend: str, size: int) -> dict[str, Any]:
    workdir = args.workdir / f"{backend}-{size}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    SourceState(size=size, seed=args.seed).save(workdir / "source.json")
    prefix = f"bench-sync-scale-{uuid.uuid4().hex[:8]}"
    phases: dict[str, dict[str, Any]] = {}
    try:
        for phase in PHASES:
            print(f"{backend} {size}: {phase} ...", flush=True)
            result = _child(args, phase, backend, size, workdir, prefix)
            phases[phase] = result
            print(
                f"{backend} {size}: {phase} {result['seconds']:.2f} s "
                f"(cpu {result['cpu_seconds']:.2f} s, open {result['open_seconds']:.2f} s), "
                f"peak RSS {result['peak_rss_mb']:.0f} MB, counts "
                + ", ".join(f"{k}={v}" for k, v in result["counts"].items() if v),
                flush=True,
            )
    finally:
        if backend == "opensearch":
            delete_opensearch_indices(args.opensearch_url, prefix)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    first = phases["first"]["seconds"]
    return {
        "backend": backend,
        "size": size,
        "phases": phases,
        "incremental_over_first": round(phases["incremental"]["seconds"] / first, 5),
        "incremental_warm_over_first": round(
            phases["incremental"]["warm_rerun"]["seconds"] / first, 5
        ),
        "permissions_over_first": round(phases["permissions"]["seconds"] / first, 5),
        "prune_over_first": round(phases["prune"]["seconds"] / first, 5),
    }


def orchestrate(args: argparse.Namespace) -> int:
    sizes = [int(s) for s in args.sizes.split(",") if s]
    backends = [b for b in args.backends.split(",") if b]
    for backend in backends:
        if backend not in ("embedded", "opensearch"):
            raise SystemExit(f"unknown backend {backend!r}")
    out: Path = args.out or RESULTS / "sync_scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    for backend in backends:
        for size in sizes:
            runs.append(run_size(args, backend, size))
            # Written after every (backend, size): a long run stopped later keeps what it measured.
            result = summarise(args, runs, time.perf_counter() - started)
            out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_summary(result)
    print(f"wrote {out} ({result['total_seconds']:.0f} s in all)")
    return 0


def summarise(
    args: argparse.Namespace, runs: list[dict[str, Any]], seconds: float
) -> dict[str, Any]:
    rss: dict[str, Any] = {}
    for backend in dict.fromkeys(r["backend"] for r in runs):
        mine = sorted((r for r in runs if r["backend"] == backend), key=lambda r: r["size"])
        if len(mine) >= 2:
            small, large = mine[0], mine[-1]
            peak_small = small["phases"]["incremental"]["peak_rss_mb"]
            peak_large = large["phases"]["incremental"]["peak_rss_mb"]
            rss[backend] = {
                "sizes": [small["size"], large["size"]],
                "incremental_peak_rss_mb": [peak_small, peak_large],
                "ratio": round(peak_large / peak_small, 4),
                "meets_target": peak_large / peak_small <= RSS_GROWTH_TARGET,
            }
    return {
        "benchmark": "sync_scale",
        "command": " ".join(["python", "bench/sync_scale.py", *sys.argv[1:]]),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
        "git": _git_state(),
        "model": MODEL,
        "changes": args.changes,
        "write_batch_docs": args.write_batch,
        "checkpoint_every": args.checkpoint_every,
        "seed": args.seed,
        "total_seconds": round(seconds, 1),
        "runs": runs,
        "incremental_peak_rss": rss,
        "targets": {
            "incremental_over_first": INCREMENTAL_FRACTION_TARGET,
            "incremental_peak_rss_growth": RSS_GROWTH_TARGET,
        },
        # The incremental as a fresh process runs it (`permindex sync`), and warm (a second
        # incremental in the same process, as a long-lived scheduler runs it).
        "meets_targets": {
            f"{r['backend']}-{r['size']}": {
                "incremental_over_first": r["incremental_over_first"] < INCREMENTAL_FRACTION_TARGET,
                "incremental_warm_over_first": r["incremental_warm_over_first"]
                < INCREMENTAL_FRACTION_TARGET,
            }
            for r in runs
        },
    }


def _git_state() -> dict[str, Any]:
    """The commit measured, and the files that differed from it (a shared working tree)."""

    def git(*command: str) -> str:
        done = subprocess.run(
            ["git", *command], cwd=REPO, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    changed = [line[3:] for line in git("status", "--porcelain").splitlines()]
    return {"head": git("rev-parse", "HEAD"), "changed_files": changed}


def print_summary(result: dict[str, Any]) -> None:
    print()
    header = (
        f"{'backend':<10} {'size':>7} {'first s':>8} {'incr s':>7} {'incr/first':>10} "
        f"{'warm s':>7} {'warm/first':>10} {'perm s':>7} {'prune s':>7} {'incr peak MB':>12}"
    )
    print(header)
    for run in result["runs"]:
        p = run["phases"]
        warm = p["incremental"]["warm_rerun"]
        print(
            f"{run['backend']:<10} {run['size']:>7} {p['first']['seconds']:>8.2f} "
            f"{p['incremental']['seconds']:>7.3f} {run['incremental_over_first']:>10.5f} "
            f"{warm['seconds']:>7.3f} {run['incremental_warm_over_first']:>10.5f} "
            f"{p['permissions']['seconds']:>7.2f} {p['prune']['seconds']:>7.2f} "
            f"{p['incremental']['peak_rss_mb']:>12.1f}"
        )
    target = INCREMENTAL_FRACTION_TARGET
    for name, met in result["meets_targets"].items():
        cold, warm = met["incremental_over_first"], met["incremental_warm_over_first"]
        print(
            f"incremental / first < {target}: {name}: fresh process {'yes' if cold else 'NO'}, "
            f"warm {'yes' if warm else 'NO'}"
        )
    for backend, rss in result["incremental_peak_rss"].items():
        small, large = rss["sizes"]
        print(
            f"incremental peak RSS {backend} {large} / {small}: {rss['ratio']:.3f} "
            f"(target <= {RSS_GROWTH_TARGET}): {'yes' if rss['meets_target'] else 'NO'}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,200000", help="comma-separated source sizes")
    parser.add_argument("--backends", default="embedded,opensearch")
    parser.add_argument("--opensearch-url", default="http://127.0.0.1:9200")
    parser.add_argument("--changes", type=int, default=100, help="edits per phase")
    parser.add_argument("--write-batch", type=int, default=32, help="documents per index write")
    parser.add_argument("--checkpoint-every", type=int, default=5000, help="documents")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--keep", action="store_true", help="keep the work directories")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile each phase here")
    parser.add_argument("--out", type=Path, default=None)
    # One phase in this process (what the orchestrator runs).
    parser.add_argument("--phase", choices=PHASES, default=None)
    parser.add_argument("--backend", choices=("embedded", "opensearch"), default="embedded")
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--index-prefix", default="bench-sync-scale")
    args = parser.parse_args(argv)
    if args.phase is not None:
        print(json.dumps(run_phase(args)), flush=True)
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    raise SystemExit(main())
