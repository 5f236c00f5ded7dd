"""Fixtures shared by every test area: both index backends, and the real embedding model.

``stores`` and ``make_stores`` are parametrised over the two backends, so a test written once
runs against the embedded SQLite file and against the real local OpenSearch node. The OpenSearch
case never skips: an unreachable node is a test failure that says how to start it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from indexer.backends import Stores
from indexer.embedding import SentenceTransformerEmbedder
from indexer.settings import EmbeddedSettings, OpenSearchSettings

pytest_plugins = ("tests.opensearch_guard",)

OPENSEARCH_URL_ENV = "PERMINDEX_TEST_OPENSEARCH_URL"
DEFAULT_OPENSEARCH_URL = "http://127.0.0.1:9200"

BACKENDS = [
    pytest.param("embedded", id="embedded"),
    pytest.param("opensearch", id="opensearch", marks=pytest.mark.opensearch),
]

MakeStores = Callable[[int], Stores]


def opensearch_test_url() -> str:
    return os.environ.get(OPENSEARCH_URL_ENV, DEFAULT_OPENSEARCH_URL)


@pytest.fixture(scope="session")
def opensearch_url() -> str:
    """The test node's URL, after checking that it answers (fail, never skip, when it does not)."""
    from opensearchpy import OpenSearch

    url = opensearch_test_url()
    client = OpenSearch(hosts=[url], timeout=10)
    problem: str | None = None
    try:
        client.cluster.health(wait_for_status="yellow", request_timeout=20)
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    if problem is not None:  # failed outside the handler, so the report is this message alone
        pytest.fail(
            f"OpenSearch is not reachable at {url} ({problem}). "
            "Start the local node with `deploy/local-opensearch/opensearch start` "
            f"(or point {OPENSEARCH_URL_ENV} at a running node).",
            pytrace=False,
        )
    return url


def delete_opensearch_indices(url: str, prefix: str) -> None:
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[url], timeout=30)
    try:
        # Names resolved first: deleting by wildcard may be refused (destructive_requires_name).
        names = list(client.indices.get(index=f"{prefix}*", expand_wildcards="all"))
        if names:
            client.indices.delete(index=",".join(names), ignore_unavailable=True)
    finally:
        client.close()


@pytest.fixture(params=BACKENDS)
def backend_kind(request: pytest.FixtureRequest) -> str:
    """Which backend this test instance runs against: "embedded" or "opensearch"."""
    return str(request.param)


@pytest.fixture
def make_stores(
    backend_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[MakeStores]:
    """Open fresh, empty stores of this test's backend for a given vector dimension.

    Each call gives independent stores (its own file or index prefix); all are closed, and their
    OpenSearch indices deleted, when the test ends.
    """
    opened: list[Stores] = []
    prefixes: list[str] = []
    url = request.getfixturevalue("opensearch_url") if backend_kind == "opensearch" else ""

    def make(dimension: int) -> Stores:
        if backend_kind == "embedded":
            from indexer.backends.embedded import open_embedded

            path = tmp_path / f"index-{len(opened)}.sqlite"
            stores = open_embedded(EmbeddedSettings(path=path), dimension)
        else:
            from indexer.backends.opensearch import open_opensearch

            prefix = f"pt{uuid.uuid4().hex[:12]}"
            prefixes.append(prefix)
            stores = open_opensearch(OpenSearchSettings(url=url, index_prefix=prefix), dimension)
        opened.append(stores)
        return stores

    yield make

    for stores in opened:
        stores.close()
    for prefix in prefixes:
        delete_opensearch_indices(url, prefix)


@pytest.fixture
def dimension() -> int:
    """Vector dimension for backend tests that use hand-made vectors (not the model's)."""
    return 8


@pytest.fixture
def stores(make_stores: MakeStores, dimension: int) -> Stores:
    """Fresh stores of this test's backend, schema ensured, for ``dimension``-d vectors."""
    opened = make_stores(dimension)
    opened.index.ensure_schema()
    return opened


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2 model, loaded once per session."""
    return SentenceTransformerEmbedder()


# Meant to keep tests that need something exclusive in one pytest-xdist process. It does not
# today: pytest-xdist 3.8 writes the group into a node id attribute pytest 9 no longer reads, so
# loadgroup groups nothing. The scale-out tests therefore give each process its own Redis
# (tests/scale_out/conftest.py); the marks stay for when xdist reads them again.
_EXCLUSIVE_DIRS = {"scale_out": "redis"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        try:
            area = Path(str(item.fspath)).relative_to(root).parts[0]
        except ValueError:
            continue
        group = _EXCLUSIVE_DIRS.get(area)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
