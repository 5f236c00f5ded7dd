"""A dedicated OpenSearch node the fault tests may stop and start: never the shared one.

It is started through ``deploy/local-opensearch/opensearch`` on a free port, so it has its own
data, logs, config and pid file (``.cache/opensearch/node-<version>-<port>``) beside the shared
node's; the directory is deleted when the tests are done with it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "local-opensearch" / "opensearch"
# The shared node's port; the tests refuse to manage it whatever the environment says.
SHARED_PORT = 9200
# Startup takes 30-70 s on an idle 2-core machine, minutes on one loaded far past its cores.
START_TIMEOUT_S = 480


def free_port_pair() -> int:
    """A free HTTP port whose transport port (port + 100, as the script assigns) is free too."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port == SHARED_PORT or port + 100 > 65535:
            continue
        try:
            with socket.socket() as transport:
                transport.bind(("127.0.0.1", port + 100))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for the fault tests' OpenSearch node")


class FaultNode:
    def __init__(self, port: int) -> None:
        if port == SHARED_PORT:
            raise ValueError("the shared node on 9200 is never stopped by the fault tests")
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        version = os.environ.get("PERMINDEX_OPENSEARCH_VERSION", "3.6.0")
        self.node_dir = REPO / ".cache" / "opensearch" / f"node-{version}-{port}"
        self.startups: list[float] = []

    def _script(self, command: str) -> None:
        env = {
            **os.environ,
            "PERMINDEX_OPENSEARCH_PORT": str(self.port),
            # Half the shared node's heap: the fault tests index a handful of documents.
            "PERMINDEX_OPENSEARCH_HEAP": "512m",
            "PERMINDEX_OPENSEARCH_TIMEOUT": str(START_TIMEOUT_S),
        }
        done = subprocess.run(
            [str(SCRIPT), command],
            env=env,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S + 120,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{SCRIPT.name} {command} on port {self.port} failed:\n{done.stderr[-4000:]}"
            )

    def start(self) -> None:
        began = time.monotonic()
        self._script("start")
        self.startups.append(time.monotonic() - began)

    def stop(self) -> None:
        self._script("stop")

    def remove(self) -> None:
        shutil.rmtree(self.node_dir, ignore_errors=True)
