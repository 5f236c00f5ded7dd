"""Answers about recent queries from the trace ring: the trace, a document's fate, a replay."""

from __future__ import annotations

from collections.abc import Callable

from indexer.backend import IndexBackend
from retrieval.models import SearchQuery, SearchResponse
from retrieval.trace import DocumentFate, QueryTrace, TraceStore, explain

Search = Callable[..., SearchResponse]


def explain_fate(
    traces: TraceStore, index: IndexBackend, query_id: str, doc_id: str
) -> DocumentFate | None:
    """Why a document did or did not come back for a recent query (None: trace evicted)."""
    trace = traces.get(query_id)
    if trace is None:
        return None
    fate = explain(trace, doc_id)
    if fate.last_stage is None and trace.principals:
        visible = bool(index.get_document_chunks(doc_id, trace.principals))
        reason = (
            "it is visible to the caller, so it did not match well enough or was filtered out"
            if visible
            else "it is not in the index or not visible to the caller"
        )
        fate = fate.model_copy(update={"explanation": f"{fate.explanation}; {reason}"})
    return fate


def replay(traces: TraceStore, query_id: str, search: Search) -> SearchResponse | None:
    """Run a recent query again with the same identity, traced, to compare with the original."""
    trace: QueryTrace | None = traces.get(query_id)
    if trace is None:
        return None
    query: SearchQuery = trace.query.model_copy(update={"trace": True})
    return search(trace.principals, query, caller=trace.caller, service=trace.service)
