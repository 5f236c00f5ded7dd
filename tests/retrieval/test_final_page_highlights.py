"""Highlights are made for the returned page only, on both backends, and read the same as when the
keyword leg marked its whole candidate pool (issues 14 and 15)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from indexer.backend import IndexBackend
from indexer.backends import Stores
from indexer.records import Hit, SearchFilters
from retrieval.identity import IdentityResolver
from retrieval.models import SearchQuery
from tests.retrieval.corpus import MakeSearcher

EVERYTHING = SearchFilters()


class Recording:
    """The backend as it is, noting which chunks the searcher asks to highlight."""

    def __init__(self, inner: IndexBackend) -> None:
        self.inner = inner
        self.asked: list[list[str]] = []
        self.leg_marks: list[bool] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def keyword_search(self, *args: Any, highlight: bool = True) -> list[Hit]:
        self.leg_marks.append(highlight)
        return self.inner.keyword_search(*args, highlight=highlight)

    def hybrid_candidates(self, *args: Any, highlight: bool = True) -> tuple[list[Hit], list[Hit]]:
        self.leg_marks.append(highlight)
        return self.inner.hybrid_candidates(*args, highlight=highlight)

    def highlights(
        self, query: str, chunk_ids: Sequence[str], principals: frozenset[str]
    ) -> dict[str, list[str]]:
        self.asked.append(list(chunk_ids))
        return self.inner.highlights(query, chunk_ids, principals)


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_page_highlights_are_those_the_keyword_leg_gave_and_only_the_page_is_marked(
    indexed: Stores, make_searcher: MakeSearcher, identities: IdentityResolver, mode: str
) -> None:
    recording = Recording(indexed.index)
    searcher = make_searcher(recording)
    bob = identities.resolve("bob@acme.com")
    text = "VPN client for the office network"
    response = searcher.search(bob, SearchQuery(query=text, mode=mode, top_k=2), caller="bob")
    results = response.results
    assert len(results) == 2

    # What the keyword leg marked when it highlighted every candidate it returned.
    pooled = {h.chunk_id: h for h in indexed.index.keyword_search(text, bob, EVERYTHING, 100)}
    from_keyword = [r for r in results if r.score.keyword is not None]
    assert from_keyword, "the query's terms are in the top results"
    assert any("<em>" in fragment for r in from_keyword for fragment in r.highlights)
    for result in from_keyword:
        assert result.highlights == pooled[result.chunk_id].highlights

    # The pool (more than the page) went unmarked; only the returned chunks were highlighted.
    assert recording.leg_marks == [False]
    assert len(pooled) > len(results)
    assert recording.asked == [[r.chunk_id for r in from_keyword]]


def test_a_chunk_the_caller_may_not_see_is_never_highlighted(
    indexed: Stores, identities: IdentityResolver
) -> None:
    payroll = "wiki:payroll#0"
    carol, bob = identities.resolve("carol@acme.com"), identities.resolve("bob@acme.com")
    marked = indexed.index.highlights("salary bands", [payroll], carol)
    assert any("<em>" in fragment for fragment in marked[payroll])
    assert indexed.index.highlights("salary bands", [payroll], bob) == {}
    assert indexed.index.highlights("salary bands", [payroll], frozenset()) == {}
