"""Issue 7 item 16: ``/metrics`` serves the retrieval metrics an operator alerts on (ACL
re-check violations, search latency), which live in the process-wide registry."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from indexer.backend import IndexBackend
from indexer.records import Hit, SearchFilters
from retrieval.identity import IdentityResolver
from retrieval.service.app import create_app
from retrieval.service.keys import ApiKeyStore
from retrieval.service.settings import ServiceSettings
from tests.retrieval.corpus import MakeSearcher

from .conftest import bearer


class LeakyIndex:
    """A backend with a bug: its keyword leg also returns a chunk the caller may not see."""

    def __init__(self, index: IndexBackend) -> None:
        self._index = index

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)

    def keyword_search(
        self,
        query: str,
        principals: frozenset[str],
        filters: SearchFilters,
        k: int,
        *,
        highlight: bool = True,
    ) -> list[Hit]:
        hits = self._index.keyword_search(query, principals, filters, k, highlight=highlight)
        forged = self._index.keyword_search(query, frozenset({"group:wiki:hr"}), filters, 1)
        return [*hits, *forged]


def sample(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def service(
    searcher: Any, identities: IdentityResolver, keys_path: Any, **settings: Any
) -> FastAPI:
    return create_app(
        searcher,
        identities,
        ApiKeyStore.from_file(keys_path),
        ServiceSettings(keys_file=keys_path, **settings),
    )


def test_metrics_endpoint_serves_acl_violations_and_search_latency(
    make_searcher: MakeSearcher,
    identities: IdentityResolver,
    keys_path: Any,
    api_keys: dict[str, str],
) -> None:
    searcher = make_searcher(index=LeakyIndex(make_searcher().index))
    with TestClient(service(searcher, identities, keys_path)) as http:
        admin = bearer(api_keys["admin"])
        before = http.get("/metrics", headers=admin).text
        response = http.post(
            "/v1/search",
            json={"user": "bob@acme.com", "query": "salary payroll", "mode": "keyword"},
            headers=bearer(api_keys["search"]),
        )
        assert response.status_code == 200
        # The forged payroll chunk was dropped by the re-check...
        assert "wiki:payroll" not in {r["doc_id"] for r in response.json()["results"]}
        after = http.get("/metrics", headers=admin).text
    # ...and an operator scraping the service sees that it happened, and how long searches take.
    violations = "permindex_retrieval_acl_violations_total"
    assert sample(after, violations, 'stage="keyword_leg"') == (
        sample(before, violations, 'stage="keyword_leg"') + 1
    )
    latency = "permindex_retrieval_search_seconds_count"
    assert sample(after, latency, 'mode="keyword"') == sample(before, latency, 'mode="keyword"') + 1
    assert "# TYPE permindex_retrieval_search_seconds histogram" in after
