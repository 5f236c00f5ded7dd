"""What only the OpenSearch backend has: aliases, the Lucene k-NN mapping, bulk item errors, OCC."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from opensearchpy import OpenSearch

from indexer.backend import SCHEMA_VERSION, IndexUnavailableError
from indexer.backends.opensearch import OpenSearchIndex, SchemaMismatchError, open_opensearch
from indexer.records import SearchFilters
from indexer.settings import OpenSearchSettings
from indexer.state_store import Lease, LeaseHeldError
from tests.conformance.builders import ALICE, BOB, axis, blend, document
from tests.opensearch.conftest import OpenStores

pytestmark = pytest.mark.opensearch

EVERYTHING = SearchFilters()
DIM = 8


def _index(open_stores: OpenStores, **settings: object) -> OpenSearchIndex:
    index = open_stores(DIM, **settings).index
    assert isinstance(index, OpenSearchIndex)
    return index


def test_chunks_live_behind_an_alias_with_a_lucene_hnsw_vector_field(
    open_stores: OpenStores, raw_client: OpenSearch, prefix: str
) -> None:
    _index(open_stores)
    [target] = raw_client.indices.get_alias(name=f"{prefix}-chunks")
    assert target == f"{prefix}-chunks-v{SCHEMA_VERSION}-0"
    mapping = raw_client.indices.get_mapping(index=target)[target]["mappings"]
    assert mapping["_meta"] == {"schema_version": SCHEMA_VERSION, "dimension": DIM}
    vector = mapping["properties"]["vector"]
    assert vector["type"] == "knn_vector" and vector["dimension"] == DIM
    assert vector["method"]["engine"] == "lucene"
    assert vector["method"]["name"] == "hnsw"
    assert mapping["properties"]["acl"]["type"] == "keyword"
    settings = raw_client.indices.get_settings(index=target)[target]["settings"]["index"]
    assert settings["knn"] == "true"


def test_the_default_analyzer_stems_like_the_embedded_index_and_others_can_be_named(
    open_stores: OpenStores, raw_client: OpenSearch, prefix: str
) -> None:
    index = _index(open_stores)
    index.write_documents([document("wiki", "1", [("kubernetes services", axis(0, DIM))], {ALICE})])
    index.refresh()
    [hit] = index.keyword_search("service", frozenset({ALICE}), EVERYTHING, 5)
    assert hit.doc_id == "wiki:1"

    other = open_stores(DIM, index_prefix=f"{prefix}-std", analyzer="standard").index
    assert isinstance(other, OpenSearchIndex)
    other.write_documents([document("wiki", "1", [("kubernetes services", axis(0, DIM))], {ALICE})])
    other.refresh()
    assert other.keyword_search("service", frozenset({ALICE}), EVERYTHING, 5) == []
    [target] = raw_client.indices.get_alias(name=f"{prefix}-std-chunks")
    body = raw_client.indices.get_mapping(index=target)[target]["mappings"]["properties"]["body"]
    assert body["analyzer"] == "standard"


def test_reopening_reuses_the_index_and_a_new_dimension_is_refused(
    open_stores: OpenStores, raw_client: OpenSearch, prefix: str
) -> None:
    index = _index(open_stores)
    index.write_documents([document("wiki", "1", [("kept text", axis(0, DIM))], {ALICE})])
    again = _index(open_stores)
    again.refresh()
    assert again.stats().documents == 1
    assert len(raw_client.indices.get(index=f"{prefix}-chunks-*")) == 1
    with pytest.raises(SchemaMismatchError, match="8-d"):
        open_stores(16)


def test_rebuild_swaps_the_alias_atomically_and_keeps_every_document_searchable(
    open_stores: OpenStores, raw_client: OpenSearch, prefix: str
) -> None:
    index = _index(open_stores)
    index.write_documents(
        [
            document("wiki", str(i), [(f"rebuild topic {i}", axis(i, DIM))], {ALICE})
            for i in range(5)
        ]
    )
    index.refresh()
    before = index.keyword_search("rebuild", frozenset({ALICE}), EVERYTHING, 10)

    index.rebuild()

    [target] = raw_client.indices.get_alias(name=f"{prefix}-chunks")
    assert target == f"{prefix}-chunks-v{SCHEMA_VERSION}-1"
    assert not raw_client.indices.exists(index=f"{prefix}-chunks-v{SCHEMA_VERSION}-0")
    after = index.keyword_search("rebuild", frozenset({ALICE}), EVERYTHING, 10)
    assert {h.chunk_id for h in after} == {h.chunk_id for h in before} and len(after) == 5
    [nearest] = index.vector_search(axis(3, DIM), frozenset({ALICE}), EVERYTHING, 1)
    assert nearest.doc_id == "wiki:3"
    # Fingerprints and writes keep working through the aliases.
    assert len(list(index.iter_fingerprints("wiki"))) == 5
    index.write_documents([document("wiki", "1", [("rewritten", axis(1, DIM))], {ALICE})])
    index.refresh()
    assert index.stats().chunks == 5
    index.ensure_schema()
    [target] = raw_client.indices.get_alias(name=f"{prefix}-chunks")
    assert target.endswith("-1")


def test_knn_filter_returns_k_permitted_hits_when_almost_everything_is_forbidden(
    open_stores: OpenStores,
) -> None:
    index = _index(open_stores)
    target = axis(0, DIM)
    forbidden = [
        document("wiki", f"bob{i}", [("x", blend(target, axis(2, DIM), 0.01 * (i % 10)))], {BOB})
        for i in range(600)
    ]
    permitted = [
        document("wiki", f"alice{i}", [("y", blend(target, axis(1, DIM), 0.5 + 0.05 * i))], {ALICE})
        for i in range(5)
    ]
    for start in range(0, len(forbidden), 200):
        assert not index.write_documents(forbidden[start : start + 200]).failed
    assert not index.write_documents(permitted).failed
    index.refresh()

    hits = index.vector_search(target, frozenset({ALICE}), EVERYTHING, 5)
    assert [h.doc_id for h in hits] == [f"wiki:alice{i}" for i in range(5)]
    assert all(h.acl == {ALICE} for h in hits)
    # Scores are cosine similarities (Lucene's inner-product scaling undone).
    nearest = blend(target, axis(1, DIM), 0.5)
    assert hits[0].score == pytest.approx(nearest[0], abs=1e-3)


def test_the_node_rejects_one_item_and_only_its_document_fails(open_stores: OpenStores) -> None:
    index = _index(open_stores)
    old = document("wiki", "bad", [("old version", axis(0, DIM))] * 3, {ALICE})
    assert index.write_documents([old]).written == ["wiki:bad"]

    good = document("wiki", "good", [("good text", axis(0, DIM))], {ALICE})
    # Two valid chunks and one of the wrong dimension: only the node can refuse it.
    bad = document(
        "wiki",
        "bad",
        [("new a", axis(0, DIM)), ("new b", [1.0] * (DIM + 2)), ("new c", axis(1, DIM))],
        {ALICE},
    )
    result = index.write_documents([good, bad])
    index.refresh()

    assert result.written == ["wiki:good"]
    [failure] = result.failed
    assert failure.doc_id == "wiki:bad" and "dimension" in failure.reason
    # The half-overwritten document is gone entirely (no mix of versions), and not recorded as
    # indexed, so the next run writes it again.
    assert index.get_document_chunks("wiki:bad", frozenset({ALICE})) == []
    assert [f.doc_id for f in index.iter_fingerprints("wiki")] == ["wiki:good"]
    assert index.stats().chunks == 1


def test_only_one_of_many_racing_workers_gets_the_lease(
    open_stores: OpenStores, node_url: str, prefix: str
) -> None:
    open_stores()
    now = datetime(2025, 1, 1, tzinfo=UTC)
    winners: list[Lease] = []
    losers: list[str] = []
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        # Each worker has its own client, as separate processes would.
        stores = open_opensearch(OpenSearchSettings(url=node_url, index_prefix=prefix), DIM)
        try:
            barrier.wait()
            winners.append(stores.state.acquire_lease("wiki", f"w{n}", timedelta(minutes=5), now))
        except LeaseHeldError:
            losers.append(f"w{n}")
        finally:
            stores.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and len(losers) == 5


def test_an_unreachable_node_is_a_systemic_failure_of_every_store() -> None:
    # Opening does not fail (a service starts and reports not-ready); every call does.
    stores = open_opensearch(OpenSearchSettings(url="http://127.0.0.1:9", timeout_s=1.0), DIM)
    try:
        with pytest.raises(IndexUnavailableError):
            stores.index.keyword_search("x", frozenset({ALICE}), EVERYTHING, 5)
        with pytest.raises(IndexUnavailableError):
            stores.index.write_documents([document("wiki", "1", [("t", axis(0, DIM))], {ALICE})])
        with pytest.raises(IndexUnavailableError):
            stores.state.get_checkpoint("wiki")
        with pytest.raises(IndexUnavailableError):
            stores.directory.members_of("group:wiki:eng")
    finally:
        stores.close()
