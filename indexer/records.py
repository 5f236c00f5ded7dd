"""What the indexer writes and what the backends return: the index backend's vocabulary."""

from __future__ import annotations

from collections.abc import Mapping
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
    # Covers the non-text fields (url, author, dates, doc type, metadata): a change to them alone
    # is an update_fields, not a rewrite. "" for writers that do not track it.
    fields_fingerprint: str = ""
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


class FieldsUpdate(BaseModel):
    """Replace the stored non-text fields of a document and every chunk of it, without touching
    text, vectors or ACL: what a change the fields fingerprint sees, and the content one does
    not, costs (no re-chunking, no embedding)."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    url: str | None = None
    author: str | None = None
    doc_type: str
    created_at: datetime | None = None
    updated_at: datetime
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)
    fields_fingerprint: str
    indexed_at: datetime | None = None
    # Set when the source's version changed: recorded beside the new fields.
    version: str | None = None


# Metadata keys and values longer than this are stored and returned but not filterable: a filter
# value is at most this long (retrieval's SearchQuery), and OpenSearch refuses keyword terms over
# 32,766 bytes, so indexing them would only risk failing the document's write.
MAX_FILTERABLE_METADATA_CHARS = 256


def metadata_pairs(metadata: Mapping[str, MetadataValue]) -> list[tuple[str, str]]:
    """The (key, value) pairs a metadata filter matches against, the same on every backend.

    A list contributes each element; numbers and booleans are compared by their ``str()`` (so
    ``True`` matches "True", ``3`` matches "3"). Sorted and without duplicates.
    """
    pairs: set[tuple[str, str]] = set()
    for key, value in metadata.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            text = str(item)
            if max(len(key), len(text)) <= MAX_FILTERABLE_METADATA_CHARS:
                pairs.add((key, text))
    return sorted(pairs)


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
    fields_fingerprint: str = ""


class SearchFilters(BaseModel):
    model_config = ConfigDict(frozen=True)

    sources: frozenset[str] | None = None
    doc_types: frozenset[str] | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    # Key -> accepted values: a document matches when, for every key, its value (a string, any
    # element of a list, a number or boolean by its str()) is one of them. See metadata_pairs.
    metadata: dict[str, frozenset[str]] | None = None


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
    created_at: datetime | None = None
    updated_at: datetime
    breadcrumbs: tuple[str, ...] = ()
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)
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
