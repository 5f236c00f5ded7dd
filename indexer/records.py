"""What the indexer writes and what the backends return: the index backend's vocabulary."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from connectors.documents import Acl, MetadataValue


class ChunkWrite(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int
    text: str
    vector: list[float]


class DocumentWrite(BaseModel):
    """A whole document to (re)write: the backend replaces every chunk it had before."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    source_id: str
    external_id: str
    title: str
    url: str | None = None
    author: str | None = None
    doc_type: str
    content_type: str
    created_at: datetime | None = None
    updated_at: datetime
    breadcrumbs: tuple[str, ...] = ()
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)
    acl: Acl
    content_fingerprint: str
    acl_fingerprint: str
    version: str | None = None  # the source's version of the content, for SyncContext
    chunks: list[ChunkWrite]
    # The writer's clock, so pruning compares times from one clock; the backend's when None.
    indexed_at: datetime | None = None


class AclUpdate(BaseModel):
    model_config = ConfigDict(frozen=True)

    doc_id: str
    acl: Acl
    acl_fingerprint: str
    indexed_at: datetime | None = None
    # Set when the source's version changed but the content did not: recorded, nothing re-embedded.
    version: str | None = None


def stamp(indexed_at: datetime | None, fallback: str) -> str:
    """ISO time a write records as ``indexed_at``: the writer's if it gave one."""
    return indexed_at.isoformat() if indexed_at is not None else fallback


class WriteFailure(BaseModel):
    model_config = ConfigDict(frozen=True)

    doc_id: str
    reason: str


class WriteResult(BaseModel):
    """Per-item outcome of a bulk write. Items not in ``failed`` are durable."""

    written: list[str] = Field(default_factory=list)
    failed: list[WriteFailure] = Field(default_factory=list)


class DocFingerprint(BaseModel):
    model_config = ConfigDict(frozen=True)

    doc_id: str
    external_id: str
    content_fingerprint: str
    acl_fingerprint: str
    indexed_at: datetime
    version: str | None = None


class SearchFilters(BaseModel):
    model_config = ConfigDict(frozen=True)

    sources: frozenset[str] | None = None
    doc_types: frozenset[str] | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None


class Hit(BaseModel):
    """One chunk returned by a backend leg, with the ACL it was indexed under (for the re-check)."""

    chunk_id: str
    doc_id: str
    source_id: str
    external_id: str
    chunk_index: int
    text: str
    title: str
    url: str | None = None
    author: str | None = None
    doc_type: str
    content_type: str
    updated_at: datetime
    breadcrumbs: tuple[str, ...] = ()
    acl: Acl
    score: float
    highlights: list[str] = Field(default_factory=list)


class SourceStats(BaseModel):
    documents: int
    chunks: int


class IndexStats(BaseModel):
    backend: str
    schema_version: int
    documents: int
    chunks: int
    sources: dict[str, SourceStats] = Field(default_factory=dict)
    size_bytes: int | None = None
