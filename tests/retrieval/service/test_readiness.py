"""Issue 7 item 15: ``/readyz`` needs no key, so a flood of it must not take the search pool.

It probes the index cheaply, once per cache window, on its own thread. The same flood runs
against a real ``permindex serve`` process in ``tests/security``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
from fastapi import FastAPI

from indexer.backend import IndexBackend
from indexer.records import Hit, IndexStats
from retrieval.identity import IdentityResolver
from retrieval.service.app import create_app
from retrieval.service.keys import ApiKeyStore
from retrieval.service.settings import ServiceSettings
from tests.retrieval.corpus import MakeSearcher

from .conftest import bearer, running_server


class SlowReads:
    """The real index, except that the calls readiness may make (stats, document reads, ping)
    wait until released: an index under load, as a readiness flood finds it."""

    def __init__(self, index: IndexBackend) -> None:
        self._index = index
        self.release = threading.Event()
        self.calls = 0
        self.stats_calls = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)

    def _slow(self) -> None:
        with self._lock:
            self.calls += 1
        self.release.wait(30)

    def stats(self) -> IndexStats:
        # Counts every chunk: on a large index, far too dear for an anonymous endpoint.
        self.stats_calls += 1
        self._slow()
        return self._index.stats()

    def get_document_chunks(self, doc_id: str, principals: frozenset[str]) -> list[Hit]:
        self._slow()
        return self._index.get_document_chunks(doc_id, principals)

    def ping(self) -> None:
        self._slow()


def service(
    searcher: Any, identities: IdentityResolver, keys_path: Any, **settings: Any
) -> FastAPI:
    return create_app(
        searcher,
        identities,
        ApiKeyStore.from_file(keys_path),
        ServiceSettings(keys_file=keys_path, **settings),
    )


def test_a_readiness_flood_does_not_starve_searches(
    make_searcher: MakeSearcher,
    identities: IdentityResolver,
    keys_path: Any,
    api_keys: dict[str, str],
) -> None:
    slow = SlowReads(make_searcher().index)
    searcher = make_searcher(index=slow)
    app = service(searcher, identities, keys_path, readiness_timeout_s=20, readiness_cache_s=60)

    async def scenario(url: str) -> tuple[list[int], list[int]]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            flood = [asyncio.ensure_future(client.get("/readyz")) for _ in range(40)]
            await asyncio.sleep(0.5)  # let the flood reach the service before searching
            searches = []
            for _ in range(5):
                answer = await client.post(
                    "/v1/search",
                    json={"user": "bob@acme.com", "query": "vpn", "mode": "keyword"},
                    headers=bearer(api_keys["search"]),
                )
                searches.append(answer.status_code)
            slow.release.set()
            ready = [r.status_code for r in await asyncio.gather(*flood)]
            again = await client.get("/readyz")  # within the cache window: no new probe
            ready.append(again.status_code)
            return searches, ready

    with running_server(app) as url:
        searches, ready = asyncio.run(scenario(url))
    assert searches == [200] * 5
    assert ready == [200] * 41
    # Forty-one anonymous calls reached the index once, and not to count it.
    assert slow.calls == 1
    assert slow.stats_calls == 0
