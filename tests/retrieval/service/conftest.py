"""The HTTP service over the small organisation of ``tests/retrieval/conftest.py``, per backend.

Keys: ``search`` (search only), ``trusted`` (search + assert_groups), ``admin`` (admin only),
``operator`` (search + admin) and ``revoked`` (search, then revoked).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from retrieval.identity import IdentityResolver
from retrieval.searcher import Searcher
from retrieval.service.app import create_app
from retrieval.service.keys import ApiKeyStore, Capability, create_key, revoke_key
from retrieval.service.settings import ServiceSettings

SEARCH = Capability.SEARCH
ASSERT = Capability.ASSERT_GROUPS
ADMIN = Capability.ADMIN


@pytest.fixture
def keys_path(tmp_path: Path) -> Path:
    return tmp_path / "keys.yaml"


@pytest.fixture
def api_keys(keys_path: Path) -> dict[str, str]:
    """Name -> full key string, as an operator would have copied them at creation."""
    wanted = {
        "search": {SEARCH},
        "trusted": {SEARCH, ASSERT},
        "admin": {ADMIN},
        "operator": {SEARCH, ADMIN},
        "revoked": {SEARCH},
    }
    keys = {name: create_key(keys_path, name, caps)[1] for name, caps in wanted.items()}
    assert revoke_key(keys_path, "revoked") == 1
    return keys


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


MakeApp = Callable[..., FastAPI]


@pytest.fixture
def make_app(
    searcher: Searcher, identities: IdentityResolver, keys_path: Path, api_keys: dict[str, str]
) -> MakeApp:
    def make(**overrides: object) -> FastAPI:
        settings = ServiceSettings(keys_file=keys_path).model_copy(update=overrides)
        return create_app(searcher, identities, ApiKeyStore.from_file(keys_path), settings)

    return make


@pytest.fixture
def http(make_app: MakeApp) -> Iterator[TestClient]:
    with TestClient(make_app()) as client:
        yield client


@contextmanager
def running_server(app: FastAPI) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, in a thread; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def server_url(make_app: MakeApp) -> Iterator[str]:
    with running_server(make_app()) as url:
        yield url
