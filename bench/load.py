"""Load and soak: locust users searching a served ``permindex serve`` while a sync writes.

The index is the 100k-chunk index of ``bench/query.py`` (built by its builder, reused when it
exists). For each backend: a ``permindex serve`` process on a free loopback port, a warm-up, then
``--users`` locust users (headless, loopback only) searching for ``--duration`` seconds while a
folder source is edited and synced into the same index over and over. Reported: requests,
errors (any non-200), p50/p95/p99, and the server's RSS after the warm-up and after the run.

    python bench/load.py                          # both backends, 16 users, 120 s
    python bench/load.py --backends embedded --duration 30

Locust imports this file as its locustfile (``SearchUser`` below); run directly, it only
orchestrates, so gevent's monkey-patching never touches the builder or the sync loop.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOKEN_ENV = "PERMINDEX_LOAD_KEY"
QUERIES_ENV = "PERMINDEX_LOAD_QUERIES"
GROUPS_ENV = "PERMINDEX_LOAD_GROUPS"
CALLER = "caller@bench.example"

if "locust" in sys.modules:  # imported by locust as its locustfile
    from locust import HttpUser, constant, task

    _QUERIES = json.loads(Path(os.environ[QUERIES_ENV]).read_text())
    _GROUPS = json.loads(os.environ[GROUPS_ENV])

    class SearchUser(HttpUser):
        wait_time = constant(0)

        def on_start(self) -> None:
            self.client.headers["Authorization"] = f"Bearer {os.environ[TOKEN_ENV]}"
            self.rng = random.Random(id(self))

        @task
        def search(self) -> None:
            body = {
                "query": self.rng.choice(_QUERIES),
                "user": CALLER,
                "groups": _GROUPS,
                "mode": self.rng.choice(["hybrid", "hybrid", "keyword", "vector"]),
                "top_k": 10,
            }
            with self.client.post("/v1/search", json=body, catch_response=True) as response:
                if response.status_code != 200:
                    response.failure(f"{response.status_code}: {response.text[:200]}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERMINDEX_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for {pid}")


def _build_index(backend: str, args: argparse.Namespace) -> int:
    """The 100k-chunk index of bench/query.py, built by its own builder (reused when present)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import query as bench_query  # bench/query.py: its builder, not a copy

    from indexer.embedding import SentenceTransformerEmbedder
    from indexer.settings import EmbeddingSettings
    from retrieval.evaluation.beir import iter_corpus

    embedder = SentenceTransformerEmbedder(EmbeddingSettings(model=bench_query.MODEL))
    corpus = list(iter_corpus(args.dataset))
    vectors = bench_query._corpus_vectors(corpus, embedder, args.vector_cache)
    stores = bench_query._open(backend, "large", embedder.dimension, args)
    try:
        return bench_query._build(
            stores.index, corpus, vectors, args.large_chunks, False, f"{backend}/large"
        )
    finally:
        stores.close()


def _workspace(backend: str, args: argparse.Namespace, root: Path) -> Path:
    """A deployment over the bench index, with a folder source the sync loop writes."""
    root.mkdir(parents=True, exist_ok=True)
    if backend == "opensearch":
        index = f"  opensearch: {{url: {args.opensearch}, index_prefix: permindex-bench-large}}"
    else:
        index = f"  embedded: {{path: {(args.index_dir / 'query-large.sqlite').resolve()}}}"
    docs = root / "docs"
    docs.mkdir(exist_ok=True)
    (docs / ".permindex-acl.yaml").write_text("allow: [org]\n")
    config = root / "permindex.yaml"
    config.write_text(
        "\n".join(
            [
                "tenant: bench",
                "org: {domains: [bench.example]}",
                "index:",
                index,
                "embedding: {model: all-MiniLM-L6-v2}",
                "sources:",
                "  - {type: folder, id: loadsync, path: docs}",
                "service:",
                "  keys_file: keys.yaml",
                f"  audit_file: {root / 'audit.jsonl'}",
                "  workers: 4",
                "  max_queued: 64",
                "",
            ]
        )
    )
    return config


def _cli(config: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "permindex.cli", "-c", str(config), *command],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


class SyncLoop(threading.Thread):
    """Edit some files of the folder source, sync, repeat, until stopped."""

    def __init__(self, config: Path) -> None:
        super().__init__(daemon=True)
        self.config = config
        self.docs = config.parent / "docs"
        self.stop = threading.Event()
        self.runs = 0
        self.failures: list[str] = []
        self.rng = random.Random(5)

    def run(self) -> None:
        serial = 0
        while not self.stop.is_set():
            for _ in range(20):
                serial += 1
                name = f"note-{self.rng.randrange(200):03d}.md"
                words = " ".join(self.rng.choice(_WORDS) for _ in range(120))
                (self.docs / name).write_text(f"# Load note {serial}\n\n{words}\n")
            done = _cli(self.config, "sync", "loadsync", "--quiet")
            self.runs += 1
            if done.returncode != 0:
                self.failures.append(done.stderr[-500:])


_WORDS = [
    "cell",
    "protein",
    "gene",
    "tumour",
    "signal",
    "receptor",
    "dose",
    "trial",
    "cohort",
    "pathway",
]


def _locust(url: str, users: int, seconds: int, csv_prefix: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(Path(__file__).resolve()),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{seconds}s",
            "--host",
            url,
            "--csv",
            str(csv_prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--stop-timeout",
            "10",
        ],
        env=env,
        check=False,
        timeout=seconds + 120,
    )


def _aggregated(csv_prefix: Path) -> dict[str, Any]:
    with Path(f"{csv_prefix}_stats.csv").open() as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    row = {k: (v if v != "N/A" else "nan") for k, v in rows["Aggregated"].items()}
    return {
        "requests": int(row["Request Count"]),
        "errors": int(row["Failure Count"]),
        "requests_per_s": float(row["Requests/s"]),
        "p50_ms": float(row["50%"]),
        "p95_ms": float(row["95%"]),
        "p99_ms": float(row["99%"]),
        "max_ms": float(row["Max Response Time"]),
    }


def _wait_up(url: str, process: subprocess.Popen[bytes], timeout_s: float = 300.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("permindex serve exited early")
        try:
            if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"permindex serve did not become ready within {timeout_s} s")


def _run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    chunks = _build_index(backend, args)
    root = (args.index_dir / f"load-{backend}").resolve()
    config = _workspace(backend, args, root)
    from retrieval.service.keys import Capability, create_key

    keys_file = root / "keys.yaml"
    keys_file.unlink(missing_ok=True)
    _, key = create_key(keys_file, "load", {Capability.SEARCH, Capability.ASSERT_GROUPS})
    sys.path.insert(0, str(ROOT / "bench"))
    import query as bench_query

    from retrieval.evaluation.beir import load_queries

    queries = list(load_queries(args.dataset, args.split).values())[:200]
    queries_file = root / "queries.json"
    queries_file.write_text(json.dumps(queries))
    env = _env()
    env.update(
        {
            TOKEN_ENV: key,
            QUERIES_ENV: str(queries_file),
            GROUPS_ENV: json.dumps(bench_query.GROUPS[:5]),
        }
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (root / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "permindex.cli", "-c", str(config), "serve", "--port", str(port)],
        env=_env(),
        stdout=log,
        stderr=log,
    )
    loop = SyncLoop(config)
    try:
        _wait_up(url, server)
        _locust(url, args.users, args.warmup, root / "warmup", env)
        rss_warm = _rss_mib(server.pid)
        loop.start()
        started = time.monotonic()
        _locust(url, args.users, args.duration, root / "load", env)
        elapsed = time.monotonic() - started
        rss_after = _rss_mib(server.pid)
        loop.stop.set()
        loop.join(timeout=600)
        stats = _aggregated(root / "load")
    finally:
        loop.stop.set()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    _remove_sync_documents(backend, args)
    growth = (rss_after - rss_warm) / rss_warm
    return {
        "backend": backend,
        "chunks": chunks,
        "users": args.users,
        "duration_s": round(elapsed, 1),
        **stats,
        "syncs_during_load": loop.runs,
        "sync_failures": len(loop.failures),
        "sync_failure_samples": loop.failures[:2],
        "rss_after_warmup_mib": round(rss_warm, 1),
        "rss_after_run_mib": round(rss_after, 1),
        "rss_growth": round(growth, 4),
        "rss_within_10_percent": abs(growth) <= 0.10,
    }


def _remove_sync_documents(backend: str, args: argparse.Namespace) -> None:
    """Leave the bench index as bench/query.py built it: drop the sync loop's documents."""
    sys.path.insert(0, str(ROOT / "bench"))
    import query as bench_query

    stores = bench_query._open(backend, "large", 384, args)
    try:
        ids = [fp.doc_id for fp in stores.index.iter_fingerprints("loadsync")]
        if ids:
            stores.index.delete_documents(ids)
        stores.index.refresh()
    finally:
        stores.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="embedded,opensearch")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--duration", type=int, default=120, help="seconds of measured load")
    parser.add_argument("--warmup", type=int, default=20, help="seconds of load before the RSS")
    parser.add_argument("--dataset", type=Path, default=Path("../shared/datasets/scifact"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--large-chunks", type=int, default=100_000)
    parser.add_argument("--opensearch", default="http://127.0.0.1:9200")
    parser.add_argument("--index-dir", type=Path, default=Path("var/bench"))
    parser.add_argument(
        "--vector-cache", type=Path, default=Path("var/eval/beir-scifact.vectors.npz")
    )
    parser.add_argument("--json", type=Path, default=Path("bench/results/load.json"))
    args = parser.parse_args(argv)
    args.index_dir.mkdir(parents=True, exist_ok=True)
    results = [_run_backend(b.strip(), args) for b in args.backends.split(",") if b.strip()]
    for r in results:
        print(
            f"{r['backend']}: {r['users']} users {r['duration_s']} s, {r['requests']} searches "
            f"({r['requests_per_s']:.1f}/s), {r['errors']} errors, p50 {r['p50_ms']:.0f} ms, "
            f"p95 {r['p95_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms; {r['syncs_during_load']} syncs "
            f"({r['sync_failures']} failed); RSS {r['rss_after_warmup_mib']:.0f} -> "
            f"{r['rss_after_run_mib']:.0f} MiB ({r['rss_growth']:+.1%})"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "command": "python bench/load.py " + " ".join(argv or sys.argv[1:]),
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "results": results,
            },
            indent=2,
        )
    )
    print(f"wrote {args.json}")
    return 0 if all(r["errors"] == 0 and r["sync_failures"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
