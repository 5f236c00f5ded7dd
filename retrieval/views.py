"""What a caller receives: search results and document views made from hits and candidates."""

from __future__ import annotations

from indexer.records import Hit
from retrieval.fusion import Candidate
from retrieval.highlight import fallback_highlights
from retrieval.models import (
    DocumentChunk,
    DocumentView,
    ScoreBreakdown,
    SearchQuery,
    SearchResult,
)


def search_result(cand: Candidate, query: str) -> SearchResult:
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


def document_view(chunks: list[Hit]) -> DocumentView:
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


def audited_filters(query: SearchQuery) -> dict[str, object]:
    """The filters an audit record keeps of a query."""
    return query.model_dump(
        mode="json",
        include={"sources", "doc_types", "updated_after", "updated_before", "max_chunks_per_doc"},
        exclude_none=True,
    )
