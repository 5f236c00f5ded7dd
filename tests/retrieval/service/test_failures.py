"""When the index is down or the service is saturated, callers get a clear 503/504, not a hang."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexer.backends import Stores
from indexer.embedding import Embedder
from indexer.settings import OpenSearchSettings
from retrieval.identity import IdentityResolver
from retrieval.searcher import Searcher
from retrieval.service.app import create_app
from retrieval.service.keys import ApiKeyStore
from retrieval.service.limits import BoundedExecutor, OverloadedError
from retrieval.service.settings import ServiceSettings
from retrieval.settings import RetrievalSettings
from tests.conftest import MakeStores

from .conftest import bearer


def down_stores(backend_kind: str, make_stores: MakeStores, dimension: int) -> Stores:
    """Stores whose index cannot be reached: a closed file, or a node on a port nobody serves."""
    if backend_kind == "embedded":
        stores = make_stores(dimension)
        stores.index.ensure_schema()
        stores.close()
        return stores
    from indexer.backends.opensearch import open_opensearch

    return open_opensearch(OpenSearchSettings(url="http://127.0.0.1:9", timeout_s=2.0), dimension)


def test_index_down_gives_503_and_not_ready(
    backend_kind: str,
    make_stores: MakeStores,
    embedder: Embedder,
    identities: IdentityResolver,
    keys_path: Path,
    api_keys: dict[str, str],
) -> None:
    stores = down_stores(backend_kind, make_stores, embedder.dimension)
    searcher = Searcher(stores.index, embedder, RetrievalSettings(tenant="acme"))
    app = create_app(
        searcher, identities, ApiKeyStore.from_file(keys_path), ServiceSettings(keys_file=keys_path)
    )
    with TestClient(app) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"
        assert http.get("/healthz").status_code == 200  # alive, just not ready
        response = http.post(
            "/v1/search",
            json={"user": "bob@acme.com", "query": "vpn", "mode": "keyword"},
            headers=bearer(api_keys["search"]),
        )
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "index_unavailable"
        assert response.headers["retry-after"]


def test_saturated_executor_refuses_at_once_and_recovers() -> None:
    executor = BoundedExecutor(workers=1, max_queued=1)
    release = threading.Event()

    async def scenario() -> list[object]:
        first = asyncio.ensure_future(executor.run(release.wait, 10))
        second = asyncio.ensure_future(executor.run(lambda: "queued", 10))
        await asyncio.sleep(0.05)
        with pytest.raises(OverloadedError):
            await executor.run(lambda: "third", 10)
        release.set()
        done = await asyncio.gather(first, second)
        return [*done, await executor.run(lambda: "after", 10)]

    try:
        assert asyncio.run(scenario()) == [True, "queued", "after"]
    finally:
        executor.shutdown()
