"""Retrieval settings: how queries are run, fused, reranked and bounded."""

from __future__ import annotations

from pydantic import BaseModel, Field

from indexer.principals import OrgPolicy
from retrieval.models import FusionMethod, SearchMode


class RetrievalSettings(BaseModel):
    default_mode: SearchMode = "hybrid"
    # min-max 0.5/0.5 measured better than RRF on SciFact (0.713 vs 0.692, same model); see
    # docs/benchmarks.md for the numbers measured in this project.
    fusion: FusionMethod = "minmax"
    keyword_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    rrf_k: int = Field(default=60, ge=1)
    # Chunks fetched per leg before fusion. Grown for deep pages, capped by max_candidate_pool.
    candidate_pool: int = Field(default=100, ge=1)
    max_candidate_pool: int = Field(default=1000, ge=1)
    # A sentence-transformers CrossEncoder name or path; None switches the rerank stage off.
    rerank_model: str | None = None
    rerank_top_n: int = Field(default=50, ge=1)
    rerank_batch_size: int = Field(default=32, ge=1)
    rerank_device: str = "cpu"
    # Age at which the recency factor is one half. The boost itself is per query (0 = off).
    recency_half_life_days: float = Field(default=90.0, gt=0.0)
    default_recency_boost: float = Field(default=0.0, ge=0.0, le=1.0)
    max_top_k: int = Field(default=100, ge=1)
    # The tenant and its members: `org:<tenant>` is granted to members only.
    org: OrgPolicy = Field(default_factory=OrgPolicy)
    trace_buffer_size: int = Field(default=256, ge=0)
