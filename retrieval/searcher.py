"""The in-process search API every retrieval path (HTTP, client, LlamaIndex, eval) goes through.

Stages: legs (keyword and/or vector, ACL-filtered inside the backend query, then re-checked) ->
fusion -> collapse to K chunks per document -> optional rerank -> optional recency boost ->
page -> final ACL check. Each stage is timed and traced; every call leaves one audit record.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from prometheus_client import Histogram

from indexer.backend import IndexBackend
from indexer.embedding import Embedder
from indexer.records import Hit, SearchFilters
from retrieval.acl_check import enforce_acl
from retrieval.audit import AuditRecord, AuditSink, LoggingAuditSink
from retrieval.collapse import collapse
from retrieval.fusion import Candidate, fuse_minmax, fuse_rrf, merge_legs, single_leg
from retrieval.highlight import fallback_highlights
from retrieval.models import (
    DocumentChunk,
    DocumentView,
    ScoreBreakdown,
    SearchMode,
    SearchQuery,
    SearchResponse,
    SearchResult,
)
from retrieval.rerank import Reranker, open_reranker, rerank_passage
from retrieval.settings import RetrievalSettings
from retrieval.trace import DocumentFate, QueryTrace, TraceStore, explain

SEARCH_SECONDS = Histogram(
    "permindex_retrieval_search_seconds", "In-process search latency by mode.", ["mode"]
)

Clock = Callable[[], datetime]
Timer = Callable[[], float]


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
        mode: SearchMode = (
            query.mode if "mode" in query.model_fields_set else self.settings.default_mode
        )
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
            page, dropped = self._run(principals, query, mode, trace)
        else:
            trace.add("keyword" if mode == "keyword" else "vector", 0.0, [], note="no principals")

        results = [self._result(c, query.query) for c in page]
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
                filters=_filters_dict(query),
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

    def _run(
        self, principals: frozenset[str], query: SearchQuery, mode: SearchMode, trace: QueryTrace
    ) -> tuple[list[Candidate], int]:
        filters = SearchFilters(
            sources=frozenset(query.sources) if query.sources else None,
            doc_types=frozenset(query.doc_types) if query.doc_types else None,
            updated_after=query.updated_after,
            updated_before=query.updated_before,
            metadata=(
                {key: frozenset(values) for key, values in query.metadata.items()}
                if query.metadata
                else None
            ),
        )
        pool = self._pool_size(query)
        keyword_hits: list[Hit] = []
        vector_hits: list[Hit] = []
        vector: list[float] = []
        if mode != "keyword":
            t = self.timer()
            vector = self.embedder.embed_query(query.query)
            trace.add("embed", _ms(self.timer() - t), [], note="query embedding")
        t = self.timer()
        if mode == "keyword":
            keyword_hits = self.index.keyword_search(query.query, principals, filters, pool)
        elif mode == "vector":
            vector_hits = self.index.vector_search(vector, principals, filters, pool)
        else:
            keyword_hits, vector_hits = self.index.hybrid_candidates(
                query.query, vector, principals, filters, pool
            )
        legs_ms = _ms(self.timer() - t)

        # First re-check straight after the backend, so a leaked hit neither shows up in the trace
        # (which goes back to the caller) nor skews normalisation.
        dropped = 0
        checked: dict[str, list[Hit]] = {}
        for leg, hits in (("keyword", keyword_hits), ("vector", vector_hits)):
            if mode not in ("hybrid", leg):
                continue
            kept = self._acl(hits, principals, trace, stage=f"{leg}_leg")
            dropped += len(hits) - len(kept)
            checked[leg] = kept
            note = f"pool {pool}" + (", one round trip" if mode == "hybrid" else "")
            if len(hits) != len(kept):
                note += f", {len(hits) - len(kept)} dropped by the ACL re-check"
            trace.add(leg, legs_ms, ((h.chunk_id, h.doc_id, h.score) for h in kept), note=note)

        t = self.timer()
        if mode == "hybrid":
            fusion = query.fusion or self.settings.fusion
            merged = merge_legs(checked["keyword"], checked["vector"])
            if fusion == "rrf":
                candidates = fuse_rrf(merged, self.settings.rrf_k)
                note = f"rrf k={self.settings.rrf_k}"
            else:
                w = self.settings.keyword_weight
                candidates = fuse_minmax(merged, w)
                note = f"minmax keyword weight {w}"
        else:
            candidates = single_leg(checked[mode], mode)
            note = f"{mode} scores only"
        self._trace(trace, "fusion", t, candidates, note)

        t = self.timer()
        candidates = collapse(candidates, query.max_chunks_per_doc)
        self._trace(trace, "collapse", t, candidates, f"at most {query.max_chunks_per_doc} per doc")

        candidates = self._rerank(query, candidates, trace)
        candidates = self._recency(query, candidates, trace)

        t = self.timer()
        page = candidates[query.offset : query.offset + query.top_k]
        self._trace(trace, "page", t, page, f"offset {query.offset}, top_k {query.top_k}")

        t = self.timer()
        final = enforce_acl(
            page,
            principals,
            hit_of=lambda c: c.hit,
            stage="final",
            query_id=trace.query_id,
            caller=trace.caller,
            service=trace.service,
            backend=self.index.name,
        )
        dropped += len(page) - len(final)
        self._trace(trace, "final_acl_check", t, final, None)
        return final, dropped

    def _pool_size(self, query: SearchQuery) -> int:
        # Collapse and rerank work on the pool, so deep pages need a deeper pool.
        wanted = max(self.settings.candidate_pool, 3 * (query.offset + query.top_k))
        return min(wanted, max(self.settings.max_candidate_pool, query.offset + query.top_k))

    def _rerank(
        self, query: SearchQuery, candidates: list[Candidate], trace: QueryTrace
    ) -> list[Candidate]:
        wanted = query.rerank if query.rerank is not None else True
        if not wanted or self.reranker is None or not candidates:
            if query.rerank and self.reranker is None:
                trace.add("rerank", 0.0, _triples(candidates), note="requested but not configured")
            return candidates
        t = self.timer()
        # Every returned result must have been reranked, or scores across the page would mix
        # scales: the window covers the requested page and the tail beyond it is dropped.
        window = max(self.settings.rerank_top_n, query.offset + query.top_k)
        head = candidates[:window]
        scores = self.reranker.score(query.query, [rerank_passage(c.hit) for c in head])
        for cand, score in zip(head, scores, strict=True):
            cand.rerank = cand.final = score
        head.sort(key=lambda c: (-c.final, c.best_rank(), c.chunk_id))
        self._trace(trace, "rerank", t, head, f"{self.reranker.name}, top {window}")
        return head

    def _recency(
        self, query: SearchQuery, candidates: list[Candidate], trace: QueryTrace
    ) -> list[Candidate]:
        boost = (
            query.recency_boost
            if query.recency_boost is not None
            else self.settings.default_recency_boost
        )
        if boost <= 0.0 or not candidates:
            return candidates
        t = self.timer()
        now = self.clock()
        half_life_s = self.settings.recency_half_life_days * 86400.0
        finals = [c.final for c in candidates]
        low, high = min(finals), max(finals)
        span = high - low
        for cand in candidates:
            age_s = max(0.0, (now - cand.hit.updated_at).total_seconds())
            cand.recency = 0.5 ** (age_s / half_life_s)
            # Relevance scales differ by stage (BM25, cosine, logits); normalise before mixing.
            relevance = 1.0 if span == 0 else (cand.final - low) / span
            cand.final = (1.0 - boost) * relevance + boost * cand.recency
        candidates.sort(key=lambda c: (-c.final, c.best_rank(), c.chunk_id))
        half_life = self.settings.recency_half_life_days
        self._trace(trace, "recency", t, candidates, f"boost {boost}, half-life {half_life} days")
        return candidates

    def _acl(
        self, hits: Sequence[Hit], principals: frozenset[str], trace: QueryTrace, *, stage: str
    ) -> list[Hit]:
        return enforce_acl(
            hits,
            principals,
            hit_of=lambda h: h,
            stage=stage,
            query_id=trace.query_id,
            caller=trace.caller,
            service=trace.service,
            backend=self.index.name,
        )

    def _trace(
        self,
        trace: QueryTrace,
        stage: str,
        started: float,
        candidates: Sequence[Candidate],
        note: str | None,
    ) -> None:
        trace.add(stage, _ms(self.timer() - started), _triples(candidates), note=note)

    @staticmethod
    def _result(cand: Candidate, query: str) -> SearchResult:
        hit = cand.hit
        return SearchResult(
            doc_id=hit.doc_id,
            chunk_id=hit.chunk_id,
            chunk_index=hit.chunk_index,
            title=hit.title,
            url=hit.url,
            author=hit.author,
            source_id=hit.source_id,
            doc_type=hit.doc_type,
            created_at=hit.created_at,
            updated_at=hit.updated_at,
            metadata=hit.metadata,
            text=hit.text,
            highlights=cand.highlights or fallback_highlights(query, hit.text),
            breadcrumbs=list(hit.breadcrumbs),
            score=ScoreBreakdown(
                keyword=cand.keyword,
                keyword_rank=cand.keyword_rank,
                vector=cand.vector,
                vector_rank=cand.vector_rank,
                fused=cand.fused,
                rerank=cand.rerank,
                recency=cand.recency,
                final=cand.final,
            ),
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
        query_id = uuid.uuid4().hex
        chunks: list[Hit] = []
        dropped = 0
        if principals:
            fetched = self.index.get_document_chunks(doc_id, principals)
            chunks = enforce_acl(
                fetched,
                principals,
                hit_of=lambda h: h,
                stage="document",
                query_id=query_id,
                caller=caller,
                service=service,
                backend=self.index.name,
            )
            dropped = len(fetched) - len(chunks)
            # Chunks of one document share one ACL: any mismatch means the copy is not trustworthy.
            if dropped or any(h.doc_id != doc_id for h in chunks):
                chunks = []
        view = _document_view(chunks) if chunks else None
        self.audit.record(
            AuditRecord(
                kind="document",
                query_id=query_id,
                at=self.clock(),
                service=service,
                user=caller,
                filters={"doc_id": doc_id},
                principal_count=len(principals),
                returned_doc_ids=[doc_id] if view else [],
                dropped_by_acl_check=dropped,
                latency_ms=_ms(self.timer() - started),
            )
        )
        return view

    # -- debugging ------------------------------------------------------------------------

    def trace(self, query_id: str) -> QueryTrace | None:
        return self.traces.get(query_id)

    def explain(self, query_id: str, doc_id: str) -> DocumentFate | None:
        """Why a document did or did not come back for a recent query (None: trace evicted)."""
        trace = self.traces.get(query_id)
        if trace is None:
            return None
        fate = explain(trace, doc_id)
        if fate.last_stage is None and trace.principals:
            visible = bool(self.index.get_document_chunks(doc_id, trace.principals))
            reason = (
                "it is visible to the caller, so it did not match well enough or was filtered out"
                if visible
                else "it is not in the index or not visible to the caller"
            )
            fate = fate.model_copy(update={"explanation": f"{fate.explanation}; {reason}"})
        return fate

    def replay(self, query_id: str) -> SearchResponse | None:
        """Run a recent query again with the same identity, traced, to compare with the original."""
        trace = self.traces.get(query_id)
        if trace is None:
            return None
        query = trace.query.model_copy(update={"trace": True})
        return self.search(trace.principals, query, caller=trace.caller, service=trace.service)


def _triples(candidates: Sequence[Candidate]) -> list[tuple[str, str, float]]:
    return [(c.chunk_id, c.doc_id, c.final) for c in candidates]


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _filters_dict(query: SearchQuery) -> dict[str, object]:
    return query.model_dump(
        mode="json",
        include={"sources", "doc_types", "updated_after", "updated_before", "max_chunks_per_doc"},
        exclude_none=True,
    )


def _document_view(chunks: list[Hit]) -> DocumentView:
    chunks = sorted(chunks, key=lambda h: h.chunk_index)
    first = chunks[0]
    return DocumentView(
        doc_id=first.doc_id,
        source_id=first.source_id,
        external_id=first.external_id,
        title=first.title,
        url=first.url,
        author=first.author,
        doc_type=first.doc_type,
        content_type=first.content_type,
        updated_at=first.updated_at,
        breadcrumbs=list(first.breadcrumbs),
        chunks=[
            DocumentChunk(chunk_id=h.chunk_id, index=h.chunk_index, text=h.text) for h in chunks
        ],
    )
