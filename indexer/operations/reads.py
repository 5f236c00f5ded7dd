"""Reads the index contract does not offer, for the operator actions: whole documents as they
were written (to copy them into a new index) and documents by age (for retention)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from indexer.backend import IndexBackend
from indexer.records import DocumentWrite


class AgedDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    doc_id: str
    external_id: str
    updated_at: datetime


class DocumentReader(Protocol):
    def export(self, doc_ids: Sequence[str]) -> list[DocumentWrite]:
        """The documents the index holds among ``doc_ids``, chunks, vectors and fingerprints
        included, as a ``write_documents`` call would have written them."""

    def not_modified_since(self, source_id: str, cutoff: datetime) -> Iterator[AgedDocument]:
        """The source's documents whose ``updated_at`` is before ``cutoff``."""


def reader_for(index: IndexBackend) -> DocumentReader:
    from indexer.backends.embedded.index import EmbeddedIndex

    if isinstance(index, EmbeddedIndex):
        from indexer.operations.reads_embedded import EmbeddedReader

        return EmbeddedReader(index.db)
    if type(index).__name__ == "OpenSearchIndex":
        from indexer.backends.opensearch.index import OpenSearchIndex
        from indexer.operations.reads_opensearch import OpenSearchReader

        assert isinstance(index, OpenSearchIndex)
        return OpenSearchReader(index)
    raise TypeError(f"no document reader for index backend {type(index).__name__}")
