"""Real processes for the scale-out tests: a Redis started by deploy/local-redis, Celery workers
and schedulers started as ``permindex worker`` / ``permindex scheduler``, state in one embedded
index file shared by all of them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from indexer.backends import Stores, open_stores
from indexer.runner import ANSWERED
from indexer.settings import IndexSettings
from indexer.state_store import RunRecord
from permindex.config import load_config
from permindex.runtime import open_runtime
from schedules.commands import SourceStatus, StatusReport, status
from schedules.queue_state import QueueState

ROOT = Path(__file__).resolve().parents[2]
REDIS_SCRIPT = ROOT / "deploy" / "local-redis" / "redis"
SCOPED_PACKAGE = "tests.scale_out.scoped_source"
# Schedules of tests that enqueue by hand: an incremental run now and then, nothing else.
QUIET_SCHEDULE = {"incremental": "1h", "full": None, "permissions": None, "groups": None}
# A loaded 2-core machine: everything is polled, with deadlines far beyond what it needs.
DEADLINE_S = 120.0


def launcher(packages: tuple[str, ...]) -> str:
    """Runs the real CLI in a process whose registry also knows ``packages``' source types."""
    return (
        "import sys, connectors.registry as r; "
        f"r._PACKAGES = (*r._PACKAGES, *{packages!r}); "
        "from permindex.cli import app; app(sys.argv[1:])"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_script(command: str, port: int) -> None:
    subprocess.run([str(REDIS_SCRIPT), command, str(port)], check=True, capture_output=True)


def wait_until(
    predicate: Callable[[], Any], what: str, timeout: float = DEADLINE_S, every: float = 0.3
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def lines(self) -> list[dict[str, Any]]:
        """The JSON log records this process wrote so far."""
        found = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return found

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
        self.popen.wait(timeout=30)


@dataclass
class Cluster:
    tmp: Path
    redis_port: int
    redis_db: int
    sources: list[dict[str, Any]]
    lease_ttl_s: float = 6.0
    leader_ttl_s: float = 4.0
    schedules: dict[str, Any] = field(default_factory=dict)
    source_packages: tuple[str, ...] = (SCOPED_PACKAGE,)
    write_batch: int = 4
    visibility_timeout_s: float = 12.0
    embedding_queue: str | None = None
    procs: list[Proc] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.tmp / "permindex.yaml"

    @property
    def index_path(self) -> Path:
        return self.tmp / "index.sqlite"

    def write_config(self) -> None:
        config = {
            "index": {"embedded": {"path": str(self.index_path)}},
            "embedding": {"model": "hashing:64"},
            "sources": self.sources,
            "sync": {"lease_ttl": f"{self.lease_ttl_s}s", "write_batch_docs": self.write_batch},
            "queue": {
                "broker_url": f"redis://127.0.0.1:{self.redis_port}/{self.redis_db}",
                "visibility_timeout": f"{self.visibility_timeout_s}s",
                "restore_interval": "1s",
                "lease_retry": "1s",
                "leader_lease_ttl": f"{self.leader_ttl_s}s",
                "embedding_queue": self.embedding_queue,
                "embedding_timeout": "8s",
            },
            "schedules": self.schedules
            or {
                "default": {"incremental": "1h", "full": None, "permissions": None, "groups": None}
            },
        }
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")

    def start(self, name: str, *args: str) -> Proc:
        log = self.tmp / f"{name}.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        launch = launcher(self.source_packages)
        with log.open("wb") as sink:
            popen = subprocess.Popen(
                [sys.executable, "-c", launch, "--config", str(self.config_path), *args],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a SIGKILL takes every child with it
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def start_worker(self, name: str) -> Proc:
        return self.start(name, "worker", "--pool", "solo", "--loglevel", "INFO")

    def start_embedding_worker(self, name: str) -> Proc:
        return self.start(name, "worker", "--embedding", "--pool", "solo", "--loglevel", "INFO")

    def start_scheduler(self, name: str) -> Proc:
        return self.start(name, "scheduler")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(timeout=30)

    # -- what the shared state holds (read through the stores, as `permindex status` does) -----

    def stores(self) -> Stores:
        return open_stores(IndexSettings(embedded={"path": str(self.index_path)}), 64)

    def runs(self) -> list[RunRecord]:
        if not self.index_path.exists():
            return []
        stores = self.stores()
        try:
            return stores.state.recent_runs(None, limit=10_000)
        finally:
            stores.close()

    def status(self) -> StatusReport:
        """What `permindex status` reports, from this process."""
        return _status(self)

    def status_of(self, source_id: str) -> SourceStatus:
        return next(s for s in self.status().sources if s.source_id == source_id)

    def documents(self, source_id: str) -> tuple[list[str], int]:
        """External ids of the source's indexed documents, and its chunk count."""
        stores = self.stores()
        try:
            stores.index.refresh()
            ids = sorted(fp.external_id for fp in stores.index.iter_fingerprints(source_id))
            stats = stores.index.stats().sources.get(source_id)
            return ids, 0 if stats is None else stats.chunks
        finally:
            stores.close()


def _status(cluster: Cluster) -> StatusReport:
    config = load_config(cluster.config_path)
    queue = QueueState.from_url(config.queue.broker_url or "", config.queue.queue)
    with open_runtime(config) as runtime:
        return status(runtime, queue=queue)


def answered(runs: list[RunRecord], request_ids: set[str]) -> dict[str, list[RunRecord]]:
    """Request id -> the runs that answered it (a run that succeeded, partly or not)."""
    found: dict[str, list[RunRecord]] = {rid: [] for rid in request_ids}
    for run in runs:
        if run.request_id in found and run.status in ANSWERED:
            found[run.request_id].append(run)
    return found


def iter_scopes(source: dict[str, Any]) -> Iterator[str]:
    for i in range(int(source["scopes"])):
        yield f"s{i:02d}"


def wait_ready(proc: Proc, marker: str = " ready.") -> None:
    """Until the process says it is up (importing the CLI takes seconds on a loaded machine)."""
    wait_until(lambda: marker in proc.text() or proc.popen.poll() is not None, proc.name)
    assert proc.popen.poll() is None, f"{proc.name} exited:\n{proc.text()[-3000:]}"
