"""The embedded keyword leg runs the two halves of a split at once on two connections: the
answer is the one connection's, and a write that commits while they run never mixes two states
of the index into one page."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import indexer.backends.embedded.keyword as keyword
import indexer.backends.embedded.spread as spread
from indexer.backends import Stores
from indexer.records import AclUpdate, SearchFilters
from tests.conformance.builders import axis, document
from tests.indexer.test_embedded_keyword_split import ALICE, BOB, WORDS, assert_same, ranked, stores

__all__ = ["stores"]


@pytest.mark.parametrize("k", [5, 20, 60])
@pytest.mark.parametrize("query", [list(WORDS), ["cell", "protein"], ["quasar", "alpha", "beta"]])
def test_halves_run_at_once_give_the_one_connection_answer(
    stores: Stores, k: int, query: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[str] = set()
    real = keyword._first_pass

    def spy(conn: Any, **kwargs: Any) -> Any:
        threads.add(threading.current_thread().name)
        return real(conn, **kwargs)

    monkeypatch.setattr(keyword, "_first_pass", slow_on_the_caller(spy))
    one = ranked(stores, query, k, 30)
    assert len(threads) == 1
    threads.clear()
    many = ranked(stores, query, k, 30, spread_out=True)
    assert len(one) == k
    assert_same(many, one)
    if query == list(WORDS) and k == 5:  # this one ends in a split's two halves
        assert len(threads) == 2, "the halves ran on two threads"


def slow_on_the_caller(first_pass: Any) -> Any:
    """The caller's statements take a while, so a pool thread always picks up the other half
    (a statement no pool thread has started is run by the caller)."""
    caller = threading.current_thread()

    def slow(conn: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is caller:
            time.sleep(0.05)
        return first_pass(conn, **kwargs)

    return slow


def test_a_write_committed_while_the_halves_run_stays_out_of_the_page(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = stores.index
    query = " ".join(WORDS)
    # A chunk of rare words only: it ranks first, found by the (R) NOT (C) half, which runs on
    # a pool thread.
    text = "zebrafish telomere quasar " * 3
    index.write_documents([document("wiki", "rare", [(text, axis(0, 8))], {ALICE})])
    monkeypatch.setattr(keyword, "SPLIT_ROWS", 30)
    before = index.keyword_search(query, frozenset({ALICE}), SearchFilters(), 5)
    assert before[0].doc_id == "wiki:rare"
    caller = threading.current_thread()
    written = threading.Event()
    real_stamp = spread.read_search_stamp
    revoke = AclUpdate(doc_id="wiki:rare", acl=frozenset({BOB}), acl_fingerprint="bob")

    def stamp_after_a_write(conn: Any) -> int:
        if threading.current_thread() is not caller and not written.is_set():
            # Committed by a third thread before the pool thread's snapshot starts: that half
            # no longer finds the chunk the caller's snapshot still permits.
            writer = threading.Thread(target=index.replace_acls, args=([revoke],))
            writer.start()
            writer.join()
            written.set()
        return real_stamp(conn)

    monkeypatch.setattr(keyword, "_first_pass", slow_on_the_caller(keyword._first_pass))
    monkeypatch.setattr(spread, "read_search_stamp", stamp_after_a_write)
    during = index.keyword_search(query, frozenset({ALICE}), SearchFilters(), 5)
    assert written.is_set(), "a pool thread ran the other half"
    # One state: the caller's snapshot's page, not half of it from a later state.
    assert [h.chunk_id for h in during] == [h.chunk_id for h in before]
    after = index.keyword_search(query, frozenset({ALICE}), SearchFilters(), 5)
    assert "wiki:rare" not in {h.doc_id for h in after}
