"""Retrieval's public request/response models: one shape in-process, over HTTP and in clients."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

SearchMode = Literal["keyword", "vector", "hybrid"]
FusionMethod = Literal["rrf", "minmax"]


def unicode_text(value: str) -> str:
    """Refuse strings that are not Unicode text: JSON can carry lone surrogates (``"\\ud800"``),
    which no index can store or compare, so they would fail deep inside a backend instead."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not Unicode text (lone surrogate at position {exc.start})") from None
    return value


Text = Annotated[str, AfterValidator(unicode_text)]

# A document's metadata value as the index returns it (connectors.documents.MetadataValue, which
# retrieval may not import).
MetadataValue = str | int | float | bool | list[str]
# Bounds of a metadata filter: it becomes one clause per key and one term per value inside every
# leg's query, so a request cannot make the index evaluate an unbounded filter. Longer values
# are never filterable (indexer.records.MAX_FILTERABLE_METADATA_CHARS).
MAX_METADATA_FILTER_KEYS = 20
MAX_METADATA_FILTER_VALUES = 50
MAX_METADATA_FILTER_CHARS = 256
MetadataKey = Annotated[Text, Field(min_length=1, max_length=MAX_METADATA_FILTER_CHARS)]
MetadataFilterValue = Annotated[Text, Field(max_length=MAX_METADATA_FILTER_CHARS)]
# An empty value list is refused, not read as "no filter": it would otherwise mean "nothing".
MetadataFilter = Annotated[
    dict[
        MetadataKey,
        Annotated[
            list[MetadataFilterValue], Field(min_length=1, max_length=MAX_METADATA_FILTER_VALUES)
        ],
    ],
    Field(max_length=MAX_METADATA_FILTER_KEYS),
]


class Caller(BaseModel):
    """Who the search is for. ``groups`` are honoured only from services trusted to assert them."""

    model_config = ConfigDict(frozen=True)

    email: str
    asserted_groups: frozenset[str] = frozenset()


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Text = Field(min_length=1, max_length=2000)
    mode: SearchMode = "hybrid"
    top_k: int = Field(default=10, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1000)
    sources: list[Text] | None = None
    doc_types: list[Text] | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    # Key -> accepted values (Jira status, Slack channel, Drive mime type): a document matches
    # when, for every key, its value (or any element of a list; numbers and booleans as text,
    # "3", "True") is one of the values given.
    metadata: MetadataFilter | None = None
    max_chunks_per_doc: int = Field(default=1, ge=1, le=20)
    rerank: bool | None = None  # None: use the configured default
    fusion: FusionMethod | None = None
    recency_boost: float | None = Field(default=None, ge=0.0, le=1.0)
    trace: bool = False


class ScoreBreakdown(BaseModel):
    """What each stage gave a result. Raw stage scores (BM25, cosine, fused, rerank, recency)
    reach only callers allowed to see them; the others get ``final`` = 1 / rank and the leg
    ranks, see ``SearchResponse.without_raw_scores``."""

    keyword: float | None = None
    keyword_rank: int | None = None
    vector: float | None = None
    vector_rank: int | None = None
    fused: float | None = None
    rerank: float | None = None
    recency: float | None = None
    final: float


class SearchResult(BaseModel):
    doc_id: str
    chunk_id: str
    title: str
    url: str | None
    source_id: str
    doc_type: str
    updated_at: datetime
    text: str
    highlights: list[str] = Field(default_factory=list)
    breadcrumbs: list[str] = Field(default_factory=list)
    score: ScoreBreakdown
    chunk_index: int | None = None
    author: str | None = None
    created_at: datetime | None = None
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)


class StageTrace(BaseModel):
    stage: str
    took_ms: float
    candidates: list[tuple[str, float]] = Field(default_factory=list)  # (chunk id, score)
    note: str | None = None


class SearchResponse(BaseModel):
    query_id: str
    results: list[SearchResult]
    took_ms: float
    trace: list[StageTrace] | None = None

    def without_raw_scores(self, offset: int = 0) -> SearchResponse:
        """The response as a caller without the admin capability may see it.

        BM25 scores depend on statistics over every chunk in the index, visible or not, so a
        caller watching its own scores could count hidden documents containing a term. What
        remains is a function of the result order alone (``final`` = 1 / rank in the whole
        result list, so pages agree, and the rank in each leg), which the caller sees anyway.
        The trace, which lists every stage's scores, is dropped too.
        """
        results = [
            result.model_copy(
                update={
                    "score": ScoreBreakdown(
                        final=1.0 / rank,
                        keyword_rank=result.score.keyword_rank,
                        vector_rank=result.score.vector_rank,
                    )
                }
            )
            for rank, result in enumerate(self.results, start=offset + 1)
        ]
        return self.model_copy(update={"results": results, "trace": None})


class DocumentChunk(BaseModel):
    chunk_id: str
    index: int
    text: str


class DocumentView(BaseModel):
    """One whole document as a permitted caller may read it (``GET /v1/documents/{id}``)."""

    doc_id: str
    source_id: str
    external_id: str
    title: str
    url: str | None
    author: str | None = None
    doc_type: str
    content_type: str
    updated_at: datetime
    breadcrumbs: list[str] = Field(default_factory=list)
    chunks: list[DocumentChunk]

    @property
    def text(self) -> str:
        return "\n".join(chunk.text for chunk in self.chunks)
