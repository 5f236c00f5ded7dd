"""Fixtures for the OpenSearch-specific tests: a fresh index prefix per test on the real node."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from indexer.backends import Stores
from indexer.backends.opensearch import open_opensearch
from indexer.settings import OpenSearchSettings
from tests.conftest import OPENSEARCH_URL_ENV, opensearch_test_url

pytestmark = pytest.mark.opensearch


@pytest.fixture(scope="session")
def node_url() -> str:
    url = opensearch_test_url()
    client = OpenSearch(hosts=[url], timeout=10)
    try:
        client.cluster.health(wait_for_status="yellow")
    except Exception as exc:
        pytest.fail(
            f"OpenSearch is not reachable at {url} ({type(exc).__name__}: {exc}). Start it with "
            f"`deploy/local-opensearch/opensearch start` or set {OPENSEARCH_URL_ENV}.",
            pytrace=False,
        )
    finally:
        client.close()
    return url


@pytest.fixture
def raw_client(node_url: str) -> Iterator[OpenSearch]:
    client = OpenSearch(hosts=[node_url], timeout=60)
    yield client
    client.close()


@pytest.fixture
def prefix(raw_client: OpenSearch) -> Iterator[str]:
    name = f"ost{uuid.uuid4().hex[:12]}"
    yield name
    found = list(raw_client.indices.get(index=f"{name}-*", expand_wildcards="all"))
    if found:
        raw_client.indices.delete(index=",".join(found), ignore_unavailable=True)
    try:
        pipelines = raw_client.transport.perform_request("GET", "/_search/pipeline")
    except NotFoundError:  # the node answers 404 when it has no pipeline at all
        pipelines = {}
    for pipeline in pipelines or {}:
        if pipeline.startswith(f"{name}-"):
            raw_client.transport.perform_request("DELETE", f"/_search/pipeline/{pipeline}")


OpenStores = Callable[..., Stores]


@pytest.fixture
def open_stores(node_url: str, prefix: str) -> Iterator[OpenStores]:
    opened: list[Stores] = []

    def make(dimension: int = 8, **settings: object) -> Stores:
        fields = {"url": node_url, "index_prefix": prefix, **settings}
        stores = open_opensearch(OpenSearchSettings.model_validate(fields), dimension)
        opened.append(stores)
        return stores

    yield make
    for stores in opened:
        stores.close()
