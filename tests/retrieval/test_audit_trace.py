"""Audit records and query traces: what an operator uses to answer "who saw what, and why"."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from indexer.backends import Stores
from indexer.embedding import Embedder
from retrieval.audit import JsonlAuditSink, LoggingAuditSink
from retrieval.identity import IdentityResolver
from retrieval.models import SearchQuery
from retrieval.searcher import Searcher
from retrieval.settings import RetrievalSettings
from tests.retrieval.corpus import ORG, ListAuditSink, MakeSearcher


def test_one_audit_record_per_query_with_what_was_returned(
    searcher: Searcher, identities: IdentityResolver, audit_sink: ListAuditSink
) -> None:
    query = SearchQuery(query="billing service", sources=["jira", "wiki"], top_k=3)
    response = searcher.search(
        identities.resolve("alice@acme.com"), query, caller="alice@acme.com", service="helpdesk"
    )
    assert len(audit_sink.records) == 1
    record = audit_sink.records[0]
    assert record.kind == "search"
    assert record.query_id == response.query_id
    assert (record.service, record.user, record.query) == (
        "helpdesk",
        "alice@acme.com",
        query.query,
    )
    assert record.mode == "hybrid"
    assert sorted(record.filters["sources"]) == ["jira", "wiki"]
    assert record.returned_doc_ids == [r.doc_id for r in response.results]
    assert record.returned_doc_ids
    assert record.latency_ms > 0 and record.principal_count == 5

    searcher.get_document(identities.resolve("bob@acme.com"), "wiki:deploy", caller="bob@acme.com")
    denied = audit_sink.records[-1]
    assert (denied.kind, denied.user, denied.returned_doc_ids) == ("document", "bob@acme.com", [])
    assert denied.filters == {"doc_id": "wiki:deploy"}


def test_jsonl_and_logging_sinks(
    indexed: Stores,
    embedder: Embedder,
    identities: IdentityResolver,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "audit" / "queries.jsonl"
    settings = RetrievalSettings(org=ORG)
    to_file = Searcher(indexed.index, embedder, settings, audit=JsonlAuditSink(path))
    bob = identities.resolve("bob@acme.com")
    first = to_file.search(bob, SearchQuery(query="VPN"), caller="bob@acme.com")
    to_file.search(bob, SearchQuery(query="pricing", mode="keyword"), caller="bob@acme.com")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["query"] for line in lines] == ["VPN", "pricing"]
    assert lines[0]["query_id"] == first.query_id
    assert lines[0]["returned_doc_ids"][0] == "wiki:vpn"

    caplog.set_level(logging.INFO, logger="permindex.audit")
    to_log = Searcher(indexed.index, embedder, settings, audit=LoggingAuditSink())
    logged = to_log.search(bob, SearchQuery(query="VPN"), caller="bob@acme.com")
    [entry] = [r for r in caplog.records if r.name == "permindex.audit"]
    assert json.loads(entry.getMessage())["query_id"] == logged.query_id


def test_trace_lists_each_stage_in_order(searcher: Searcher, identities: IdentityResolver) -> None:
    bob = identities.resolve("bob@acme.com")
    response = searcher.search(bob, SearchQuery(query="VPN", trace=True), caller="bob")
    assert response.trace is not None
    stages = [s.stage for s in response.trace]
    assert stages == [
        "embed",
        "keyword",
        "vector",
        "fusion",
        "collapse",
        "page",
        "final_acl_check",
    ]
    page = next(s for s in response.trace if s.stage == "page")
    assert [c for c, _ in page.candidates] == [r.chunk_id for r in response.results]
    assert all(s.took_ms >= 0 for s in response.trace)

    untraced = searcher.search(bob, SearchQuery(query="VPN"), caller="bob")
    assert untraced.trace is None
    stored = searcher.trace(untraced.query_id)
    assert stored is not None and stored.returned_doc_ids == [r.doc_id for r in untraced.results]


def test_explain_says_where_a_document_fell_out(
    searcher: Searcher, identities: IdentityResolver
) -> None:
    bob = identities.resolve("bob@acme.com")
    response = searcher.search(bob, SearchQuery(query="travel expense policy", top_k=1), caller="b")
    returned = response.results[0].doc_id
    fate = searcher.explain(response.query_id, returned)
    assert fate is not None and fate.returned and fate.rank == 1

    runner_up = next(d for d in ("wiki:expenses-2019", "wiki:expenses-2025") if d != returned)
    cut = searcher.explain(response.query_id, runner_up)
    assert cut is not None and not cut.returned
    assert cut.dropped_at == "page"

    hidden = searcher.explain(response.query_id, "wiki:payroll")
    assert hidden is not None and hidden.last_stage is None
    assert "not in the index or not visible to the caller" in hidden.explanation

    filtered = searcher.search(
        bob, SearchQuery(query="VPN", sources=["jira"], mode="keyword"), caller="b"
    )
    visible = searcher.explain(filtered.query_id, "wiki:vpn")
    assert visible is not None and "visible to the caller" in visible.explanation
    assert "not visible" not in visible.explanation


def test_traces_live_in_a_bounded_ring_and_can_be_replayed(
    make_searcher: MakeSearcher, identities: IdentityResolver
) -> None:
    searcher = make_searcher(trace_buffer_size=2)
    bob = identities.resolve("bob@acme.com")
    ids = [
        searcher.search(bob, SearchQuery(query=q), caller="bob").query_id
        for q in ("VPN", "pricing", "kubernetes")
    ]
    assert searcher.trace(ids[0]) is None and searcher.explain(ids[0], "wiki:vpn") is None
    assert searcher.trace(ids[2]) is not None

    original = searcher.trace(ids[1])
    replayed = searcher.replay(ids[1])
    assert original is not None and replayed is not None
    assert replayed.query_id != ids[1]
    assert [r.doc_id for r in replayed.results] == original.returned_doc_ids
    assert replayed.trace is not None
