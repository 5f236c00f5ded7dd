"""Turn the keyword and vector legs into one ranked candidate list.

Two methods: reciprocal rank fusion (ranks only) and a weighted sum of min-max normalised
scores (the OpenSearch normalization processor's ``min_max`` + ``arithmetic_mean``). Both are a
few lines over one query's candidates; a library (ranx) would add a numba dependency for this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from indexer.records import Hit

Leg = Literal["keyword", "vector"]


@dataclass
class Candidate:
    """One chunk on its way through the stages, with the score each stage gave it."""

    hit: Hit
    keyword: float | None = None
    keyword_rank: int | None = None
    vector: float | None = None
    vector_rank: int | None = None
    fused: float | None = None
    rerank: float | None = None
    recency: float | None = None
    final: float = 0.0
    highlights: list[str] = field(default_factory=list)

    @property
    def chunk_id(self) -> str:
        return self.hit.chunk_id

    @property
    def doc_id(self) -> str:
        return self.hit.doc_id

    def best_rank(self) -> int:
        ranks = [r for r in (self.keyword_rank, self.vector_rank) if r is not None]
        return min(ranks) if ranks else 1 << 30


def merge_legs(keyword: Sequence[Hit], vector: Sequence[Hit]) -> list[Candidate]:
    """One candidate per chunk with its score and 1-based rank in each leg that found it."""
    by_chunk: dict[str, Candidate] = {}
    for rank, hit in enumerate(keyword, start=1):
        cand = by_chunk.setdefault(hit.chunk_id, Candidate(hit=hit))
        if cand.keyword_rank is None:
            cand.keyword, cand.keyword_rank = hit.score, rank
            cand.highlights = list(hit.highlights)
    for rank, hit in enumerate(vector, start=1):
        cand = by_chunk.setdefault(hit.chunk_id, Candidate(hit=hit))
        if cand.vector_rank is None:
            cand.vector, cand.vector_rank = hit.score, rank
            if not cand.highlights:
                cand.highlights = list(hit.highlights)
    return list(by_chunk.values())


def single_leg(hits: Sequence[Hit], leg: Leg) -> list[Candidate]:
    candidates = merge_legs(hits, []) if leg == "keyword" else merge_legs([], hits)
    for cand in candidates:
        cand.fused = cand.keyword if leg == "keyword" else cand.vector
    return _ordered(candidates)


def fuse_rrf(candidates: list[Candidate], k: int) -> list[Candidate]:
    for cand in candidates:
        cand.fused = sum(1.0 / (k + r) for r in (cand.keyword_rank, cand.vector_rank) if r)
    return _ordered(candidates)


def fuse_minmax(candidates: list[Candidate], keyword_weight: float) -> list[Candidate]:
    """``w * norm(keyword) + (1 - w) * norm(vector)``; a leg that missed the chunk counts 0."""
    kw = _minmax([c.keyword for c in candidates])
    vec = _minmax([c.vector for c in candidates])
    for cand, k_norm, v_norm in zip(candidates, kw, vec, strict=True):
        cand.fused = keyword_weight * k_norm + (1.0 - keyword_weight) * v_norm
    return _ordered(candidates)


def _minmax(scores: list[float | None]) -> list[float]:
    present = [s for s in scores if s is not None]
    if not present:
        return [0.0] * len(scores)
    low, high = min(present), max(present)
    span = high - low
    # A leg whose scores are all equal carries no ordering: every hit it found counts fully.
    return [0.0 if s is None else (1.0 if span == 0 else (s - low) / span) for s in scores]


def _ordered(candidates: list[Candidate]) -> list[Candidate]:
    for cand in candidates:
        cand.final = cand.fused if cand.fused is not None else 0.0
    # Ties broken by the best leg rank, then the chunk id, so equal scores page stably.
    return sorted(candidates, key=lambda c: (-c.final, c.best_rank(), c.chunk_id))
