"""The embedded backend runs a hybrid query's two legs at once, each on its own connection, and
they still rank one state of the index: a write committed between their snapshots makes both
run again on one."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexer.backends import Stores
from indexer.backends.embedded import open_embedded
from indexer.backends.embedded.index import EmbeddedIndex
from indexer.records import AclUpdate, SearchFilters
from indexer.settings import EmbeddedSettings
from tests.conformance.builders import axis, document

ALICE = "user:alice@example.com"
PRINCIPALS = frozenset({ALICE})
QUERY = "billing outage report"


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    opened = open_embedded(EmbeddedSettings(path=tmp_path / "index.sqlite"), 8)
    opened.index.ensure_schema()
    writes = [
        document("wiki", f"d{i}", [(f"billing outage report number {i}", axis(i, 8))], {ALICE})
        for i in range(6)
    ]
    assert not opened.index.write_documents(writes).failed
    yield opened
    opened.close()


def doc_ids(hits: list[Any]) -> set[str]:
    return {hit.doc_id for hit in hits}


def test_a_revocation_between_the_legs_snapshots_reaches_both_legs(stores: Stores) -> None:
    index = stores.index
    assert isinstance(index, EmbeddedIndex)
    keyword_has_snapshot, revoked = threading.Event(), threading.Event()
    real_keyword, real_vector = index.keyword_search, index._stamped_vector_search
    calls = {"keyword": 0, "vector": 0}

    def keyword_leg(*args: Any, **kwargs: Any) -> Any:
        calls["keyword"] += 1
        if calls["keyword"] == 1:
            # This leg's snapshot is open and predates the revocation the other leg commits.
            keyword_has_snapshot.set()
            assert revoked.wait(10)
        return real_keyword(*args, **kwargs)

    def vector_leg(*args: Any) -> Any:
        calls["vector"] += 1
        if calls["vector"] == 1:
            assert keyword_has_snapshot.wait(10)
            update = AclUpdate(doc_id="wiki:d0", acl=frozenset(), acl_fingerprint="revoked")
            assert index.replace_acls([update]).written == ["wiki:d0"]
            revoked.set()
        return real_vector(*args)

    index.keyword_search = keyword_leg  # type: ignore[method-assign]
    index._stamped_vector_search = vector_leg  # type: ignore[method-assign,assignment]
    keyword, vector = index.hybrid_candidates(QUERY, axis(0, 8), PRINCIPALS, SearchFilters(), 10)
    assert calls == {"keyword": 2, "vector": 1}, "the legs ran again on one snapshot"
    assert "wiki:d0" not in doc_ids(keyword) | doc_ids(vector)
    assert doc_ids(keyword) == doc_ids(vector) == {f"wiki:d{i}" for i in range(1, 6)}


def test_legs_on_one_state_run_once_each(stores: Stores) -> None:
    keyword, vector = stores.index.hybrid_candidates(
        QUERY, axis(0, 8), PRINCIPALS, SearchFilters(), 3
    )
    assert keyword == stores.index.keyword_search(QUERY, PRINCIPALS, SearchFilters(), 3)
    assert vector == stores.index.vector_search(axis(0, 8), PRINCIPALS, SearchFilters(), 3)


def _hybrid_in_child(index: EmbeddedIndex, out: Any) -> None:
    keyword, vector = index.hybrid_candidates(QUERY, axis(1, 8), PRINCIPALS, SearchFilters(), 3)
    out.put((len(keyword), vector[0].doc_id))


def test_a_forked_child_runs_hybrid_queries_on_its_own_leg_threads(stores: Stores) -> None:
    # A Celery worker forks after the parent searched: the parent's leg threads are not in the
    # child, and a child that queued its vector leg on them would hang.
    index = stores.index
    assert isinstance(index, EmbeddedIndex)
    index.hybrid_candidates(QUERY, axis(1, 8), PRINCIPALS, SearchFilters(), 3)
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_hybrid_in_child, args=(index, out))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert out.get(timeout=5) == (3, "wiki:d1")
