"""The embedded backend's in-memory vector matrix follows every write, its own or another's.

Each test warms the matrix of one open index, changes the file through a second connection (or
a second process), and checks what the first index's searches return: the change is seen, and a
revoked or deleted chunk is never served from the copy in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.backends import Stores
from indexer.backends.embedded import open_embedded
from indexer.records import AclUpdate, SearchFilters
from indexer.settings import EmbeddedSettings
from tests.conformance.builders import ALICE, BOB, axis, document
from tests.conformance.test_embedded_file import _in_another_process

DIM = 8
BOTH = frozenset({ALICE, BOB})
NONE = SearchFilters()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Stores, Stores]]:
    path = tmp_path / "index.sqlite"
    reader = open_embedded(EmbeddedSettings(path=path), DIM)
    writer = open_embedded(EmbeddedSettings(path=path), DIM)
    yield reader, writer
    reader.close()
    writer.close()


def _nearest(stores: Stores, i: int, caller: frozenset[str], k: int = 3) -> list[str]:
    return [
        hit.doc_id
        for hit in stores.index.vector_search(axis(i, DIM), caller, NONE, k)
        if hit.score > 0.99
    ]


def _seed(writer: Stores, count: int = 4) -> None:
    result = writer.index.write_documents(
        [document("wiki", f"d{i}", [(f"text {i}", axis(i, DIM))], BOTH) for i in range(count)]
    )
    assert len(result.written) == count


def _vector_stats(stores: Stores) -> tuple[int, int]:
    stats = stores.index._vectors.stats  # type: ignore[attr-defined]
    return stats.full_loads, stats.incremental


def test_a_document_added_by_another_connection_is_found_without_a_full_reload(
    pair: tuple[Stores, Stores],
) -> None:
    reader, writer = pair
    _seed(writer)
    assert _nearest(reader, 1, BOTH) == ["wiki:d1"]
    writer.index.write_documents([document("wiki", "new", [("new", axis(6, DIM))], BOTH)])
    assert _nearest(reader, 6, BOTH) == ["wiki:new"]
    assert _nearest(reader, 1, BOTH) == ["wiki:d1"]
    assert _vector_stats(reader) == (1, 1)


def test_rewriting_the_newest_document_serves_its_new_vector_not_the_old(
    pair: tuple[Stores, Stores],
) -> None:
    # The newest document holds the largest chunk rowids, the ones SQLite would hand out again.
    reader, writer = pair
    _seed(writer)
    assert _nearest(reader, 3, BOTH) == ["wiki:d3"]
    writer.index.write_documents([document("wiki", "d3", [("moved", axis(7, DIM))], BOTH)])
    assert _nearest(reader, 7, BOTH) == ["wiki:d3"]
    assert _nearest(reader, 3, BOTH) == []
    writer.index.delete_documents(["wiki:d3"])
    writer.index.write_documents([document("wiki", "d9", [("other", axis(5, DIM))], BOTH)])
    assert _nearest(reader, 7, BOTH) == []
    assert _nearest(reader, 5, BOTH) == ["wiki:d9"]


def test_a_narrowed_acl_is_never_served_from_the_warm_matrix(pair: tuple[Stores, Stores]) -> None:
    reader, writer = pair
    _seed(writer)
    assert _nearest(reader, 2, frozenset({BOB})) == ["wiki:d2"]
    writer.index.replace_acls(
        [AclUpdate(doc_id="wiki:d2", acl=frozenset({ALICE}), acl_fingerprint="alice")]
    )
    assert _nearest(reader, 2, frozenset({BOB})) == []
    assert _nearest(reader, 2, frozenset({ALICE})) == ["wiki:d2"]
    keyword = reader.index.keyword_search("text", frozenset({BOB}), NONE, 10)
    assert "wiki:d2" not in {hit.doc_id for hit in keyword}


def test_deletions_by_another_connection_are_gone_and_the_matrix_compacts(
    pair: tuple[Stores, Stores],
) -> None:
    reader, writer = pair
    _seed(writer, count=8)
    assert _nearest(reader, 0, BOTH) == ["wiki:d0"]
    writer.index.delete_documents([f"wiki:d{i}" for i in range(1, 6)])
    for i in range(1, 6):
        assert _nearest(reader, i, BOTH) == []
    assert _nearest(reader, 6, BOTH) == ["wiki:d6"]
    assert reader.index._vectors.stats.compactions == 1  # type: ignore[attr-defined]
    writer.index.write_documents([document("wiki", "back", [("back", axis(3, DIM))], BOTH)])
    assert _nearest(reader, 3, BOTH) == ["wiki:back"]
    assert _vector_stats(reader) == (1, 2)


def test_revocations_written_by_another_process_are_not_served(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    stores = open_embedded(EmbeddedSettings(path=path), DIM)
    try:
        _seed(stores)
        assert _nearest(stores, 1, frozenset({BOB})) == ["wiki:d1"]
        assert _nearest(stores, 2, frozenset({BOB})) == ["wiki:d2"]
        _in_another_process(
            path,
            """
            from indexer.records import AclUpdate
            stores.index.replace_acls(
                [AclUpdate(doc_id="wiki:d1", acl=frozenset({ALICE}), acl_fingerprint="a")]
            )
            stores.index.delete_documents(["wiki:d2"])
            stores.index.write_documents(
                [document("wiki", "d3", [("moved", axis(6, 8))], [ALICE, "user:bob@example.com"])]
            )
            stores.close()
            """,
        )
        assert _nearest(stores, 1, frozenset({BOB})) == []
        assert _nearest(stores, 1, frozenset({ALICE})) == ["wiki:d1"]
        assert _nearest(stores, 2, BOTH) == []
        assert _nearest(stores, 3, BOTH) == []
        assert _nearest(stores, 6, BOTH) == ["wiki:d3"]
    finally:
        stores.close()


@pytest.mark.parametrize("permitted_share", [1.0, 0.1])
def test_the_product_split_over_two_threads_ranks_as_one_thread_does(
    permitted_share: float,
) -> None:
    # A vector query alone hands half its rows to a pool thread: the same chunks, the same
    # scores, whether most rows qualify (one product) or few do (rows copied out first).
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from indexer.backends.embedded.vectors import SPLIT_PRODUCT_ROWS, VectorSnapshot, top_k

    rows = 2 * SPLIT_PRODUCT_ROWS + 1
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((rows, DIM)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    snapshot = VectorSnapshot(
        generation=1,
        chunk_rowids=np.arange(1, rows + 1, dtype=np.int64),
        doc_rowids=np.arange(1, rows + 1, dtype=np.int64) // 3,
        matrix=matrix,
        live=np.ones(rows, dtype=np.bool_),
    )
    permitted = np.flatnonzero(rng.random(rows // 3 + 1) < permitted_share).astype(np.int64)
    query = matrix[7]
    with ThreadPoolExecutor(2) as pool:
        split = top_k(snapshot, permitted, query, 50, pool)
    alone = top_k(snapshot, permitted, query, 50)
    assert len(alone) == 50
    assert split == alone
