"""Request limits: body size (ASGI middleware) and a bounded, time-budgeted worker pool."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retrieval.service.errors import error_response
from retrieval.service.metrics import ServiceMetrics

T = TypeVar("T")


class BodySizeLimit:
    """Refuses bodies over ``max_bytes`` with 413, whether or not Content-Length is declared.

    The body is read here (it is small by construction) and replayed to the app, so a chunked
    upload cannot slip past the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, metrics: ServiceMetrics) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                response = error_response(400, "bad_request", "invalid Content-Length header")
                await response(scope, receive, send)
                return
            if too_large:
                await self._refuse(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before finishing its body: nobody to answer
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replay: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([replay], receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.metrics.rejected.labels("body_too_large").inc()
        response = error_response(
            413, "body_too_large", f"request body is larger than {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class OverloadedError(Exception):
    """Every worker is busy and the queue is full."""


class BudgetExceededError(Exception):
    """The work did not finish within its time budget."""


class BoundedExecutor:
    """Runs blocking search work off the event loop, at most ``workers`` at a time.

    Capacity counts work until its thread really finishes, even after the caller has been
    answered with a timeout, so a slow index cannot pile up unbounded threads.
    """

    def __init__(self, workers: int, max_queued: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="permindex-svc")
        self._capacity = workers + max_queued
        self._inflight = 0
        self._lock = threading.Lock()

    def _release(self, _: Future[Any]) -> None:
        with self._lock:
            self._inflight -= 1

    async def run(self, fn: Callable[[], T], timeout_s: float) -> T:
        with self._lock:
            if self._inflight >= self._capacity:
                raise OverloadedError
            self._inflight += 1
        try:
            future: Future[T] = self._pool.submit(fn)
        except BaseException:
            with self._lock:
                self._inflight -= 1
            raise
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
        except TimeoutError as exc:
            # Drops it if still queued; a running search finishes and is discarded.
            future.cancel()
            raise BudgetExceededError from exc

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
