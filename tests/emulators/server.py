"""Serving an ASGI app on 127.0.0.1 from a background thread, for the real SDKs to call."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

STARTUP_LIMIT_S = 20.0


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yield its base URL (``http://127.0.0.1:PORT``).

    The socket is bound before the thread starts, so the port is known and owned at once (no
    race with another test picking the same free port).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it a response written in two parts waits out
    # the client's delayed ACK (40 ms a request on Linux).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # A request held by a timeout fault must not hold the test run at shutdown.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"emulator:{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the emulator server stopped while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the emulator server did not start in {STARTUP_LIMIT_S}s")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STARTUP_LIMIT_S)
        sock.close()
