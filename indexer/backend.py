"""The index backend contract shared by the indexer (writes) and retrieval (reads).

Two implementations: OpenSearch (production) and the embedded SQLite file (default without a
server). Both pass ``tests/conformance``. Every search applies the caller's principals *inside*
the query, before top-k: a caller with no principals gets nothing, and a chunk with an empty ACL
is never returned.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from indexer.records import (
    AclUpdate,
    DocFingerprint,
    DocumentWrite,
    FieldsUpdate,
    Hit,
    IndexStats,
    SearchFilters,
    WriteResult,
)

# 2: documents keep the source's version of their content (SourceDocument.version).
# 3: documents keep created_at and metadata where searches return and filter them, and a fields
#    fingerprint apart from the content one (update_fields).
SCHEMA_VERSION = 3


class IndexUnavailableError(Exception):
    """The index cannot be reached or refused a whole request: a systemic failure."""


@runtime_checkable
class IndexBackend(Protocol):
    name: str
    dimension: int

    def ensure_schema(self) -> None:
        """Create or upgrade the index idempotently to ``SCHEMA_VERSION``."""

    def write_documents(self, writes: Sequence[DocumentWrite]) -> WriteResult:
        """Upsert whole documents; each replaces all chunks the document had (no stale tail).

        Returns only when the written items are durable. Per-item failures are reported, not
        raised; an unreachable index raises ``IndexUnavailableError``.
        """

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Delete documents and all their chunks; unknown ids are ignored."""

    def replace_acls(self, updates: Sequence[AclUpdate]) -> WriteResult:
        """Replace the ACL of every chunk of each document without touching text or vectors."""

    def update_fields(self, updates: Sequence[FieldsUpdate]) -> WriteResult:
        """Replace each document's non-text fields (url, author, doc type, dates, metadata, the
        fields fingerprint) on the document and every chunk, without touching text, title,
        vectors or ACL. Same outcome rules as ``replace_acls``: an unknown document is a
        per-item failure, written items are durable when the call returns."""

    def iter_fingerprints(self, source_id: str) -> Iterator[DocFingerprint]:
        """Stream (doc id, fingerprints) of a source without loading them all in memory."""

    def fingerprints_of(self, doc_ids: Sequence[str]) -> dict[str, DocFingerprint]:
        """The fingerprints of those of ``doc_ids`` the index holds, as of the last write."""

    def keyword_search(
        self,
        query: str,
        principals: frozenset[str],
        filters: SearchFilters,
        k: int,
        *,
        highlight: bool = True,
    ) -> list[Hit]:
        """BM25 over title (boosted) and body, ACL-filtered inside the query.

        ``highlight=False`` leaves ``Hit.highlights`` empty: the searcher ranks a pool of
        candidates and marks only the page it returns (``highlights``).
        """

    def vector_search(
        self, vector: Sequence[float], principals: frozenset[str], filters: SearchFilters, k: int
    ) -> list[Hit]:
        """kNN over chunk vectors, ACL-filtered before top-k so k permitted results survive."""

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
        """Both legs (keyword, vector) in one round trip where the backend allows it."""

    def highlights(
        self, query: str, chunk_ids: Sequence[str], principals: frozenset[str]
    ) -> dict[str, list[str]]:
        """The keyword leg's highlights of ``chunk_ids`` for ``query``, exactly as
        ``keyword_search`` would mark them, for the chunks ``principals`` may see (the ACL is in
        the query again); a chunk the query does not match, or absent, gets no entry or [].
        """

    def get_document_chunks(self, doc_id: str, principals: frozenset[str]) -> list[Hit]:
        """All chunks of one document in order, or [] if absent or not visible to ``principals``."""

    def stats(self) -> IndexStats: ...

    def refresh(self) -> None:
        """Make all acknowledged writes visible to searches."""

    def close(self) -> None: ...
