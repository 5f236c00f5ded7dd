"""Real ``permindex`` processes for the security suite: a workspace on disk, the CLI run as a
subprocess, and ``permindex serve`` listening on a free loopback port.

Everything goes through the operator's surface (``permindex keys create``, ``permindex sync``,
``permindex serve``), so what these tests see is what a deployment sees.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

TENANT = "acme"
SOURCE = "docs"
DIMENSION = 64
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Workspace:
    """A deployment folder: ``permindex.yaml``, the ``docs`` folder source, the index file."""

    root: Path
    service: dict[str, object] = field(default_factory=dict)
    extra_config: list[str] = field(default_factory=list)  # more top-level YAML lines

    @property
    def elsewhere(self) -> Path:
        """A working directory that is not the config's folder, as a systemd unit or a shell
        in another folder would run the commands: every path must still land in ``root``."""
        path = self.root.parent / f"{self.root.name}-cwd"
        path.mkdir(exist_ok=True)
        return path

    @property
    def config(self) -> Path:
        return self.root / "permindex.yaml"

    @property
    def docs(self) -> Path:
        return self.root / SOURCE

    @property
    def index_file(self) -> Path:
        return self.root / "index.sqlite"

    def write_config(self) -> None:
        # Paths are relative on purpose: they must resolve against this file's folder.
        lines = [
            f"tenant: {TENANT}",
            "index:",
            "  embedded: {path: index.sqlite}",
            f'embedding: {{model: "hashing:{DIMENSION}"}}',
            "sources:",
            f"  - {{type: folder, id: {SOURCE}, path: {SOURCE}}}",
            *self.extra_config,
            "service:",
            "  keys_file: keys.yaml",
        ]
        lines += [f"  {name}: {value}" for name, value in self.service.items()]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def write(self, relative: str, text: str) -> Path:
        path = self.docs / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def allow(self, folder: str, *users: str) -> None:
        """A sidecar granting ``folder`` to the given users (explicit users, never ``org``)."""
        sidecar = self.docs / folder / ".permindex-acl.yaml"
        sidecar.parent.mkdir(parents=True, exist_ok=True)
        sidecar.write_text(f"allow: [{', '.join(users)}]\ninherit: false\n", encoding="utf-8")

    def cli(
        self, *args: str, cwd: Path | None = None, config: bool = True, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "permindex.cli"]
        if config:
            command += ["-c", str(self.config)]
        done = subprocess.run(
            [*command, *args],
            cwd=cwd or self.elsewhere,
            env=_child_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check:
            assert done.returncode == 0, f"permindex {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done

    def sync(self) -> None:
        self.cli("sync", SOURCE, "--quiet")

    def create_key(self, name: str, *capabilities: str) -> str:
        flags = [part for cap in capabilities for part in ("--capability", cap)]
        done = self.cli("keys", "create", name, *flags)
        return done.stdout.strip().splitlines()[-1]


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERMINDEX_")}
    # The child imports the project from the checkout, whatever its working directory.
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Server:
    """One running ``permindex serve`` process."""

    url: str
    process: subprocess.Popen[bytes]
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def client(self, key: str | None = None, **kwargs: object) -> httpx.Client:
        headers: Mapping[str, str] = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextmanager
def serve(workspace: Workspace, *extra: str) -> Iterator[Server]:
    """``permindex -c <config> serve --port <free>``; yields once ``/healthz`` answers."""
    port = free_port()
    stderr_path = workspace.root / f"serve-{port}.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "permindex.cli",
                "-c",
                str(workspace.config),
                "serve",
                "--port",
                str(port),
                *extra,
            ],
            cwd=workspace.elsewhere,
            env=_child_env(),
            # uvicorn writes access lines to stdout and the rest to stderr: keep both.
            stdout=stderr,
            stderr=stderr,
        )
    server = Server(url=f"http://127.0.0.1:{port}", process=process, stderr_path=stderr_path)
    try:
        _wait_until_up(server)
        yield server
    finally:
        server.stop()


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"permindex serve exited early:\n{server.stderr()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"permindex serve did not answer within {START_TIMEOUT_S} s")
