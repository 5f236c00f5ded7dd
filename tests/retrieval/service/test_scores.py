"""Issue 7 item 13: raw leg scores are a side channel on documents the caller cannot see.

BM25 depends on corpus statistics (IDF, average length) over every chunk, visible or not, so a
search-only key watching its own keyword score could count hidden documents with a term. Search
keys get scores computed from their own result list only; raw scores stay with admin keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexer.backends import Stores
from indexer.embedding import Embedder
from indexer.records import ChunkWrite, DocumentWrite
from retrieval.identity import IdentityResolver
from retrieval.models import SearchQuery
from retrieval.searcher import Searcher

from .conftest import bearer

RAW_FIELDS = ("keyword", "vector", "fused", "rerank", "recency")
QUERY = "billing service outage"


def hidden_writes(embedder: Embedder, count: int) -> list[DocumentWrite]:
    """Documents full of the query's terms that only carol (hr) may see."""
    texts = [f"billing service outage {i}: the billing service was down" for i in range(count)]
    vectors = embedder.embed_documents(texts)
    return [
        DocumentWrite(
            doc_id=f"wiki:hidden-{i}",
            source_id="wiki",
            external_id=f"hidden-{i}",
            title=f"Hidden {i}",
            url=None,
            doc_type="page",
            content_type="text/plain",
            updated_at=datetime(2025, 1, 1, tzinfo=UTC),
            acl=frozenset({"group:wiki:hr"}),
            content_fingerprint=f"c-h{i}",
            acl_fingerprint=f"a-h{i}",
            chunks=[ChunkWrite(index=0, text=text, vector=vector)],
        )
        for i, (text, vector) in enumerate(zip(texts, vectors, strict=True))
    ]


def scores(http: TestClient, key: str, mode: str, **extra: object) -> list[dict[str, Any]]:
    body = {"user": "alice@acme.com", "query": QUERY, "mode": mode, "top_k": 10, **extra}
    response = http.post("/v1/search", json=body, headers=bearer(key))
    assert response.status_code == 200, response.text
    return [{"doc_id": r["doc_id"], **r["score"]} for r in response.json()["results"]]


@pytest.mark.parametrize("mode", ["keyword", "vector", "hybrid"])
def test_search_keys_get_no_raw_leg_scores(
    http: TestClient, api_keys: dict[str, str], mode: str
) -> None:
    results = scores(http, api_keys["search"], mode)
    assert len(results) >= 2
    for result in results:
        assert {name: result[name] for name in RAW_FIELDS} == dict.fromkeys(RAW_FIELDS)
        assert 0.0 < result["final"] <= 1.0
    finals = [r["final"] for r in results]
    assert finals == sorted(finals, reverse=True)
    assert finals[0] == 1.0
    # An operator key (search + admin) still sees what each stage gave.
    raw = scores(http, api_keys["operator"], mode)
    leg = "vector" if mode == "vector" else "keyword"
    assert any(r[leg] is not None for r in raw)


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_hidden_documents_do_not_move_a_search_keys_scores(
    http: TestClient,
    api_keys: dict[str, str],
    indexed: Stores,
    embedder: Embedder,
    mode: str,
) -> None:
    before = scores(http, api_keys["search"], mode)
    raw_before = scores(http, api_keys["operator"], mode)
    result = indexed.index.write_documents(hidden_writes(embedder, 6))
    assert not result.failed
    indexed.index.refresh()
    after = scores(http, api_keys["search"], mode)
    raw_after = scores(http, api_keys["operator"], mode)
    # The channel is real: the raw keyword score of alice's own top hit moved...
    assert raw_before[0]["doc_id"] == raw_after[0]["doc_id"]
    assert raw_before[0]["keyword"] != raw_after[0]["keyword"]
    # ...but a search key sees exactly what it saw before.
    assert after == before


def test_in_process_searcher_offers_the_same_view(
    searcher: Searcher, identities: IdentityResolver
) -> None:
    principals = identities.resolve("alice@acme.com")
    query = SearchQuery(query=QUERY, mode="keyword", offset=1, top_k=3)
    view = searcher.search(principals, query, caller="alice@acme.com", raw_scores=False)
    raw = searcher.search(principals, query, caller="alice@acme.com")
    assert [r.doc_id for r in view.results] == [r.doc_id for r in raw.results]
    assert all(r.score.keyword is None and r.score.fused is None for r in view.results)
    assert any(r.score.keyword is not None for r in raw.results)
    # Ranks continue across pages: the first result of the second page is rank 2.
    assert view.results[0].score.final == 0.5
