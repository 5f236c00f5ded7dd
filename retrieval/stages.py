"""The stages one search runs, in order, each timed and traced.

legs (keyword and/or vector, ACL-filtered inside the backend query, then re-checked) -> fusion
-> collapse to K chunks per document -> optional rerank -> optional recency boost -> page ->
final ACL check -> highlights. A new stage is one method here and one line in ``Pipeline.run``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from indexer.backend import IndexBackend
from indexer.embedding import Embedder
from indexer.records import Hit, SearchFilters
from retrieval.acl_guard import AclGuard
from retrieval.collapse import collapse
from retrieval.fusion import Candidate, fuse_minmax, fuse_rrf, merge_legs, single_leg
from retrieval.models import FusionMethod, SearchMode, SearchQuery
from retrieval.rerank import Reranker, rerank_passage
from retrieval.settings import RetrievalSettings
from retrieval.trace import QueryTrace

Clock = Callable[[], datetime]
Timer = Callable[[], float]


@dataclass(frozen=True)
class QueryPlan:
    """Every choice a query leaves to the deployment's defaults, decided in one place."""

    mode: SearchMode
    fusion: FusionMethod
    rerank: bool
    recency_boost: float
    pool: int
    filters: SearchFilters

    @classmethod
    def of(cls, query: SearchQuery, settings: RetrievalSettings) -> QueryPlan:
        return cls(
            # An explicit mode wins; the model's own default does not count as a choice.
            mode=query.mode if "mode" in query.model_fields_set else settings.default_mode,
            fusion=query.fusion or settings.fusion,
            rerank=query.rerank if query.rerank is not None else True,
            recency_boost=(
                query.recency_boost
                if query.recency_boost is not None
                else settings.default_recency_boost
            ),
            pool=_pool_size(query, settings),
            filters=SearchFilters(
                sources=frozenset(query.sources) if query.sources else None,
                doc_types=frozenset(query.doc_types) if query.doc_types else None,
                updated_after=query.updated_after,
                updated_before=query.updated_before,
                metadata=(
                    {key: frozenset(values) for key, values in query.metadata.items()}
                    if query.metadata
                    else None
                ),
            ),
        )


def _pool_size(query: SearchQuery, settings: RetrievalSettings) -> int:
    # Collapse and rerank work on the pool, so deep pages need a deeper pool.
    wanted = max(settings.candidate_pool, 3 * (query.offset + query.top_k))
    return min(wanted, max(settings.max_candidate_pool, query.offset + query.top_k))


@dataclass
class Pipeline:
    index: IndexBackend
    embedder: Embedder
    settings: RetrievalSettings
    reranker: Reranker | None
    clock: Clock
    timer: Timer

    def run(
        self, query: SearchQuery, plan: QueryPlan, guard: AclGuard, trace: QueryTrace
    ) -> tuple[list[Candidate], int]:
        """The page of candidates the caller may see, and how many hits the re-checks dropped."""
        checked, dropped = self._legs(query, plan, guard, trace)
        candidates = self._fusion(plan, checked, trace)
        candidates = self._collapse(query, candidates, trace)
        candidates = self._rerank(query, plan, candidates, trace)
        candidates = self._recency(plan, candidates, trace)
        page = self._page(query, candidates, trace)
        final = self._final_check(page, guard, trace)
        self._highlight(query, final, guard)
        return final, dropped + len(page) - len(final)

    def _legs(
        self, query: SearchQuery, plan: QueryPlan, guard: AclGuard, trace: QueryTrace
    ) -> tuple[dict[str, list[Hit]], int]:
        mode, pool, filters, principals = plan.mode, plan.pool, plan.filters, guard.principals
        keyword_hits: list[Hit] = []
        vector_hits: list[Hit] = []
        vector: list[float] = []
        if mode != "keyword":
            t = self.timer()
            vector = self.embedder.embed_query(query.query)
            trace.add("embed", _ms(self.timer() - t), [], note="query embedding")
        t = self.timer()
        # The legs rank a pool; only the page that leaves is highlighted (``_highlight``).
        if mode == "keyword":
            keyword_hits = self.index.keyword_search(
                query.query, principals, filters, pool, highlight=False
            )
        elif mode == "vector":
            vector_hits = self.index.vector_search(vector, principals, filters, pool)
        else:
            keyword_hits, vector_hits = self.index.hybrid_candidates(
                query.query, vector, principals, filters, pool, highlight=False
            )
        legs_ms = _ms(self.timer() - t)

        # First re-check straight after the backend, so a leaked hit neither shows up in the trace
        # (which goes back to the caller) nor skews normalisation.
        dropped = 0
        checked: dict[str, list[Hit]] = {}
        for leg, hits in (("keyword", keyword_hits), ("vector", vector_hits)):
            if mode not in ("hybrid", leg):
                continue
            kept = guard.hits(hits, stage=f"{leg}_leg")
            dropped += len(hits) - len(kept)
            checked[leg] = kept
            note = f"pool {pool}" + (", one round trip" if mode == "hybrid" else "")
            if len(hits) != len(kept):
                note += f", {len(hits) - len(kept)} dropped by the ACL re-check"
            trace.add(leg, legs_ms, ((h.chunk_id, h.doc_id, h.score) for h in kept), note=note)
        return checked, dropped

    def _fusion(
        self, plan: QueryPlan, checked: dict[str, list[Hit]], trace: QueryTrace
    ) -> list[Candidate]:
        t = self.timer()
        if plan.mode == "hybrid":
            merged = merge_legs(checked["keyword"], checked["vector"])
            if plan.fusion == "rrf":
                candidates = fuse_rrf(merged, self.settings.rrf_k)
                note = f"rrf k={self.settings.rrf_k}"
            else:
                w = self.settings.keyword_weight
                candidates = fuse_minmax(merged, w)
                note = f"minmax keyword weight {w}"
        else:
            candidates = single_leg(checked[plan.mode], plan.mode)
            note = f"{plan.mode} scores only"
        self._trace(trace, "fusion", t, candidates, note)
        return candidates

    def _collapse(
        self, query: SearchQuery, candidates: list[Candidate], trace: QueryTrace
    ) -> list[Candidate]:
        t = self.timer()
        candidates = collapse(candidates, query.max_chunks_per_doc)
        self._trace(trace, "collapse", t, candidates, f"at most {query.max_chunks_per_doc} per doc")
        return candidates

    def _rerank(
        self, query: SearchQuery, plan: QueryPlan, candidates: list[Candidate], trace: QueryTrace
    ) -> list[Candidate]:
        if not plan.rerank or self.reranker is None or not candidates:
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
        self, plan: QueryPlan, candidates: list[Candidate], trace: QueryTrace
    ) -> list[Candidate]:
        boost = plan.recency_boost
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

    def _page(
        self, query: SearchQuery, candidates: list[Candidate], trace: QueryTrace
    ) -> list[Candidate]:
        t = self.timer()
        page = candidates[query.offset : query.offset + query.top_k]
        self._trace(trace, "page", t, page, f"offset {query.offset}, top_k {query.top_k}")
        return page

    def _final_check(
        self, page: list[Candidate], guard: AclGuard, trace: QueryTrace
    ) -> list[Candidate]:
        t = self.timer()
        final = guard.check(page, hit_of=lambda c: c.hit, stage="final")
        self._trace(trace, "final_acl_check", t, final, None)
        return final

    def _highlight(self, query: SearchQuery, final: list[Candidate], guard: AclGuard) -> None:
        """The keyword leg's marks for the returned chunks it found, after the final ACL check,
        so only text the caller may see is read (the backend applies the ACL again).

        Marking the whole pool cost the OpenSearch backend most of a query (100 chunks
        highlighted for 10 returned). A chunk only the vector leg found keeps the fallback
        made from its text (``views``), as before. Not a traced stage: the trace lists the
        stages that choose chunks.
        """
        found = [c for c in final if c.keyword_rank is not None]
        if not found:
            return
        marks = self.index.highlights(query.query, [c.chunk_id for c in found], guard.principals)
        for cand in found:
            cand.highlights = marks.get(cand.chunk_id, cand.highlights)

    def _trace(
        self,
        trace: QueryTrace,
        stage: str,
        started: float,
        candidates: Sequence[Candidate],
        note: str | None,
    ) -> None:
        trace.add(stage, _ms(self.timer() - started), _triples(candidates), note=note)


def _triples(candidates: Sequence[Candidate]) -> list[tuple[str, str, float]]:
    return [(c.chunk_id, c.doc_id, c.final) for c in candidates]


def _ms(seconds: float) -> float:
    return seconds * 1000.0
