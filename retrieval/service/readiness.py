"""``/readyz`` needs no key, so anyone who can reach the port can call it as often as they like.

It therefore never touches the search pool and never costs more than one cheap probe per cache
window: one probe runs at a time on its own thread, callers arriving meanwhile wait for that
same probe, and its answer (ready or not) is reused for ``cache_s`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from indexer.backend import IndexUnavailableError

log = logging.getLogger(__name__)

# Read through the same permission-filtered path as a search, for a document and a principal
# that cannot exist (a principal has a kind prefix; this one has none), so it matches nothing.
PROBE_DOC_ID = "permindex-readiness-probe"
PROBE_PRINCIPALS = frozenset({"readiness-probe"})


def index_probe(index: object) -> Callable[[], None]:
    """The cheapest read the backend offers: its ``ping()`` if it has one, else a lookup of one
    absent document (an indexed key on both backends; never ``stats()``, which counts every
    chunk)."""
    ping = getattr(index, "ping", None)
    if callable(ping):
        return ping
    fetch = getattr(index, "get_document_chunks", None)
    if not callable(fetch):
        raise TypeError("index has neither ping() nor get_document_chunks()")

    def probe() -> None:
        fetch(PROBE_DOC_ID, PROBE_PRINCIPALS)

    return probe


class Readiness:
    def __init__(
        self,
        probe: Callable[[], None],
        *,
        cache_s: float,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._cache_s = cache_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="permindex-ready")
        self._lock = threading.Lock()
        self._inflight: Future[str | None] | None = None
        self._answer: tuple[float, str | None] | None = None

    async def problem(self) -> str | None:
        """None when the index answers; otherwise a short reason (an exception class name)."""
        with self._lock:
            if self._answer is not None and self._clock() - self._answer[0] < self._cache_s:
                return self._answer[1]
            if self._inflight is None:
                self._inflight = self._pool.submit(self._check)
            future = self._inflight
        try:
            # Shielded: one caller giving up must not cancel the probe the others wait for.
            return await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(future)), self._timeout_s
            )
        except TimeoutError:
            return "timeout"

    def _check(self) -> str | None:
        problem: str | None = None
        try:
            self._probe()
        except IndexUnavailableError as exc:
            problem = type(exc).__name__
        except Exception as exc:
            log.warning("readiness probe failed: %s", exc)
            problem = type(exc).__name__
        with self._lock:
            self._answer = (self._clock(), problem)
            self._inflight = None
        return problem

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
