"""The final ACL check catches a backend that returns what it must not."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest
from prometheus_client import REGISTRY

from indexer.backend import IndexBackend
from indexer.records import Hit, SearchFilters
from retrieval.acl_check import enforce_acl
from retrieval.identity import IdentityResolver
from retrieval.models import SearchQuery
from tests.retrieval.corpus import ListAuditSink, MakeSearcher

FORBIDDEN = "wiki:payroll"  # HR only


class LeakyIndex:
    """A real backend behind a deliberately broken wrapper: every read also returns payroll."""

    def __init__(self, inner: IndexBackend) -> None:
        self.inner = inner
        self.name = f"leaky-{inner.name}"
        self.dimension = inner.dimension
        self._leak = inner.get_document_chunks(FORBIDDEN, frozenset({"group:wiki:hr"}))
        assert self._leak, "the corpus must hold the payroll page"

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def _with_leak(self, hits: list[Hit]) -> list[Hit]:
        top = hits[0].score + 1.0 if hits else 1.0
        return [h.model_copy(update={"score": top}) for h in self._leak] + hits

    def keyword_search(
        self,
        query: str,
        principals: frozenset[str],
        filters: SearchFilters,
        k: int,
        *,
        highlight: bool = True,
    ) -> list[Hit]:
        hits = self.inner.keyword_search(query, principals, filters, k, highlight=highlight)
        return self._with_leak(hits)

    def vector_search(
        self, vector: Sequence[float], principals: frozenset[str], filters: SearchFilters, k: int
    ) -> list[Hit]:
        return self._with_leak(self.inner.vector_search(vector, principals, filters, k))

    def hybrid_candidates(
        self,
        query: str,
        vector: Sequence[float],
        principals: frozenset[str],
        filters: SearchFilters,
        k: int,
        *,
        highlight: bool = True,
    ) -> tuple[list[Hit], list[Hit]]:
        keyword, vector_hits = self.inner.hybrid_candidates(
            query, vector, principals, filters, k, highlight=highlight
        )
        return self._with_leak(keyword), self._with_leak(vector_hits)

    def get_document_chunks(self, doc_id: str, principals: frozenset[str]) -> list[Hit]:
        return list(self._leak)


def violations(stage: str) -> float:
    value = REGISTRY.get_sample_value("permindex_retrieval_acl_violations_total", {"stage": stage})
    return value or 0.0


@pytest.mark.parametrize("mode", ["keyword", "vector", "hybrid"])
def test_a_leaked_hit_is_dropped_logged_and_counted(
    make_searcher: MakeSearcher,
    identities: IdentityResolver,
    audit_sink: ListAuditSink,
    caplog: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    searcher = make_searcher(index=LeakyIndex(make_searcher().index))
    legs = ["keyword", "vector"] if mode == "hybrid" else [mode]
    before = {leg: violations(f"{leg}_leg") for leg in legs}
    caplog.set_level(logging.INFO, logger="permindex.security")

    query = SearchQuery.model_validate(
        {"query": "salary payroll pricing", "mode": mode, "trace": True}
    )
    response = searcher.search(identities.resolve("bob@acme.com"), query, caller="bob@acme.com")

    assert response.results, "the permitted results still come back"
    assert FORBIDDEN not in [r.doc_id for r in response.results]
    events = [r for r in caplog.records if r.name == "permindex.security"]
    assert events and all(r.levelno == logging.ERROR for r in events)
    event: Any = events[0]
    assert (event.event, event.doc_id, event.caller) == ("acl_violation", FORBIDDEN, "bob@acme.com")
    assert event.query_id == response.query_id
    for leg in legs:
        assert violations(f"{leg}_leg") == before[leg] + 1
    assert audit_sink.records[-1].dropped_by_acl_check == len(legs)
    # Not even the trace (which goes back to the caller) names the forbidden chunk.
    assert response.trace is not None
    assert not any(FORBIDDEN in chunk for s in response.trace for chunk, _ in s.candidates)


def test_a_leaked_document_is_not_served(
    make_searcher: MakeSearcher, identities: IdentityResolver, caplog: pytest.LogCaptureFixture
) -> None:
    searcher = make_searcher(index=LeakyIndex(make_searcher().index))
    caplog.set_level(logging.INFO, logger="permindex.security")
    bob = identities.resolve("bob@acme.com")
    assert searcher.get_document(bob, FORBIDDEN, caller="bob@acme.com") is None
    # Asked for one document, handed another: refused even though bob may see the other one.
    assert searcher.get_document(bob, "wiki:vpn", caller="bob@acme.com") is None
    assert any(getattr(r, "doc_id", None) == FORBIDDEN for r in caplog.records)
    carol = identities.resolve("carol@acme.com")
    view = searcher.get_document(carol, FORBIDDEN, caller="carol@acme.com")
    assert view is not None and view.doc_id == FORBIDDEN


def test_final_stage_check_drops_hits_with_empty_acl_or_no_principals(
    make_searcher: MakeSearcher,
) -> None:
    index = make_searcher().index
    hits = index.get_document_chunks("wiki:vpn", frozenset({"org:acme"}))
    assert hits
    emptied = [h.model_copy(update={"acl": frozenset()}) for h in hits]
    context: dict[str, Any] = {
        "hit_of": lambda h: h,
        "query_id": "q",
        "caller": "c",
        "service": "s",
        "backend": "b",
    }
    assert enforce_acl(hits, frozenset({"org:acme"}), stage="final", **context) == hits
    assert enforce_acl(emptied, frozenset({"org:acme"}), stage="final", **context) == []
    assert enforce_acl(hits, frozenset(), stage="final", **context) == []
