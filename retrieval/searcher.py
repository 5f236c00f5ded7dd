"""The in-process search API every retrieval path (HTTP, client, LlamaIndex, eval) goes through.

A search decides its plan (``stages.QueryPlan``), binds one ACL guard to the caller
(``acl_guard``), runs the stage pipeline (``stages``), maps what survives to results
(``views``) and leaves one audit record and one trace; ``debugging`` answers from the traces.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from prometheus_client import Histogram

from indexer.backend import IndexBackend
from indexer.embedding import Embedder
from indexer.records import Hit
from retrieval.acl_guard import AclGuard
from retrieval.audit import AuditRecord, AuditSink, LoggingAuditSink
from retrieval.debugging import explain_fate, replay
from retrieval.fusion import Candidate
from retrieval.models import DocumentView, SearchQuery, SearchResponse
from retrieval.rerank import Reranker, open_reranker
from retrieval.settings import RetrievalSettings
from retrieval.stages import Clock, Pipeline, QueryPlan, Timer
from retrieval.trace import DocumentFate, QueryTrace, TraceStore
from retrieval.views import audited_filters, document_view, search_result

SEARCH_SECONDS = Histogram(
    "permindex_retrieval_search_seconds", "In-process search latency by mode.", ["mode"]
)

__all__ = ["SEARCH_SECONDS", "Clock", "SearchLimitError", "Searcher", "Timer"]


class SearchLimitError(ValueError):
    """The query asks for more than this deployment allows (``top_k``, page depth)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Searcher:
    def __init__(
        self,
        index: IndexBackend,
        embedder: Embedder,
        settings: RetrievalSettings,
        *,
        reranker: Reranker | None = None,
        audit: AuditSink | None = None,
        clock: Clock = _utcnow,
        timer: Timer = time.perf_counter,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker if reranker is not None else open_reranker(settings)
        self.audit = audit if audit is not None else LoggingAuditSink()
        self.clock = clock
        self.timer = timer
        self.traces = TraceStore(settings.trace_buffer_size)

    # -- search ---------------------------------------------------------------------------

    def search(
        self,
        principals: frozenset[str],
        query: SearchQuery,
        *,
        caller: str,
        service: str = "in-process",
        raw_scores: bool = True,
    ) -> SearchResponse:
        """``raw_scores=False`` for callers that may not see raw stage scores (BM25 carries
        statistics of documents they cannot see): see ``SearchResponse.without_raw_scores``."""
        started = self.timer()
        if query.top_k > self.settings.max_top_k:
            raise SearchLimitError(
                f"top_k {query.top_k} exceeds this deployment's limit of {self.settings.max_top_k}"
            )
        plan = QueryPlan.of(query, self.settings)
        mode = plan.mode
        trace = QueryTrace(
            query_id=uuid.uuid4().hex,
            at=self.clock(),
            caller=caller,
            service=service,
            query=query,
            principals=principals,
        )
        dropped = 0
        page: list[Candidate] = []
        if principals:
            page, dropped = self._pipeline().run(query, plan, self._guard(trace), trace)
        else:
            trace.add("keyword" if mode == "keyword" else "vector", 0.0, [], note="no principals")

        results = [search_result(c, query.query) for c in page]
        trace.returned_doc_ids = [r.doc_id for r in results]
        took_ms = (self.timer() - started) * 1000.0
        self.traces.put(trace)
        SEARCH_SECONDS.labels(mode=mode).observe(took_ms / 1000.0)
        self.audit.record(
            AuditRecord(
                kind="search",
                query_id=trace.query_id,
                at=trace.at,
                service=service,
                user=caller,
                query=query.query,
                mode=mode,
                filters=audited_filters(query),
                top_k=query.top_k,
                offset=query.offset,
                principal_count=len(principals),
                returned_doc_ids=trace.returned_doc_ids,
                dropped_by_acl_check=dropped,
                latency_ms=took_ms,
            )
        )
        response = SearchResponse(
            query_id=trace.query_id,
            results=results,
            took_ms=took_ms,
            trace=list(trace.stages) if query.trace else None,
        )
        return response if raw_scores else response.without_raw_scores(query.offset)

    def _pipeline(self) -> Pipeline:
        # Built per query: the reranker may be swapped on a live searcher.
        return Pipeline(
            index=self.index,
            embedder=self.embedder,
            settings=self.settings,
            reranker=self.reranker,
            clock=self.clock,
            timer=self.timer,
        )

    def _guard(self, trace: QueryTrace) -> AclGuard:
        return AclGuard(
            principals=trace.principals,
            query_id=trace.query_id,
            caller=trace.caller,
            service=trace.service,
            backend=self.index.name,
        )

    # -- documents ------------------------------------------------------------------------

    def get_document(
        self,
        principals: frozenset[str],
        doc_id: str,
        *,
        caller: str = "unknown",
        service: str = "in-process",
    ) -> DocumentView | None:
        started = self.timer()
        guard = AclGuard(
            principals=principals,
            query_id=uuid.uuid4().hex,
            caller=caller,
            service=service,
            backend=self.index.name,
        )
        chunks: list[Hit] = []
        dropped = 0
        if principals:
            fetched = self.index.get_document_chunks(doc_id, principals)
            chunks = guard.hits(fetched, stage="document")
            dropped = len(fetched) - len(chunks)
            # Chunks of one document share one ACL: any mismatch means the copy is not trustworthy.
            if dropped or any(h.doc_id != doc_id for h in chunks):
                chunks = []
        view = document_view(chunks) if chunks else None
        self.audit.record(
            AuditRecord(
                kind="document",
                query_id=guard.query_id,
                at=self.clock(),
                service=service,
                user=caller,
                filters={"doc_id": doc_id},
                principal_count=len(principals),
                returned_doc_ids=[doc_id] if view else [],
                dropped_by_acl_check=dropped,
                latency_ms=(self.timer() - started) * 1000.0,
            )
        )
        return view

    # -- debugging ------------------------------------------------------------------------

    def trace(self, query_id: str) -> QueryTrace | None:
        return self.traces.get(query_id)

    def explain(self, query_id: str, doc_id: str) -> DocumentFate | None:
        """Why a document did or did not come back for a recent query (None: trace evicted)."""
        return explain_fate(self.traces, self.index, query_id, doc_id)

    def replay(self, query_id: str) -> SearchResponse | None:
        """Run a recent query again with the same identity, traced, to compare with the original."""
        return replay(self.traces, query_id, self.search)
