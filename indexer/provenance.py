"""Where each document's ACL came from: the layers its source gave, kept beside the index.

The index decides visibility by the one effective ACL stored on every chunk. The layers behind
it (a folder's sidecars with their lines, a page's restricted ancestors, a project's security
level) are kept here, one record per document, for the access explainer only: nothing here is
ever consulted to decide what a caller may see.

A record carries the fingerprint of the ACL its layers produced. The explainer shows the layers
only while that fingerprint equals the one the index holds, so a record that lags behind the
index (a write that failed, a run that predates this store) is reported as stale, never shown
as the reason for an ACL it did not produce.

Both backends hold the records next to the directory store: a table in the embedded file and
an index ``<prefix>-provenance`` in OpenSearch. The write pipeline writes a record when a
document or ACL carrying layers reaches the index (only records that changed), and deletes it
with the document. ``provenance_store_for`` finds the store of a deployment's ``Stores``.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from connectors.documents import AclLayer

__all__ = ["AclLayer", "AclProvenance", "IndexedAcl", "ProvenanceStore", "provenance_store_for"]
from indexer.backend import IndexBackend


class AclProvenance(BaseModel):
    """The layers behind one document's ACL, and which ACL they produced."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    source_id: str
    acl_fingerprint: str
    layers: tuple[AclLayer, ...]
    recorded_at: datetime

    @property
    def fingerprint(self) -> str:
        """Changes when the layers or the ACL change; not when only ``recorded_at`` does."""
        payload = {
            "acl": self.acl_fingerprint,
            "layers": [layer.model_dump(mode="json") for layer in self.layers],
        }
        encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


class IndexedAcl(BaseModel):
    """A document's effective ACL as the index holds it, and when it was last written."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    source_id: str
    title: str
    acl: frozenset[str]
    acl_fingerprint: str
    indexed_at: datetime


@runtime_checkable
class ProvenanceStore(Protocol):
    def put(self, records: Sequence[AclProvenance]) -> None:
        """Insert or replace the records (by doc id); durable when the call returns."""

    def get(self, doc_id: str) -> AclProvenance | None: ...

    def fingerprints_of(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """``AclProvenance.fingerprint`` of those of ``doc_ids`` that have a record."""

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Delete the records of ``doc_ids``; unknown ids are ignored."""

    def delete_source(self, source_id: str) -> None:
        """Delete every record of ``source_id`` (when the source itself is deleted)."""

    def indexed_acl(self, doc_id: str) -> IndexedAcl | None:
        """The ACL the index stores for ``doc_id``, whoever may see it (for admins), or None
        when the index does not hold the document. Read from the index, not from a record."""


_STORES: weakref.WeakKeyDictionary[object, ProvenanceStore] = weakref.WeakKeyDictionary()


def provenance_store_for(index: IndexBackend) -> ProvenanceStore | None:
    """The provenance store beside ``index`` (created on first use), or None for an index
    backend that has none (a test double): then no layers are recorded or shown."""
    cached = _STORES.get(index)
    if cached is not None:
        return cached
    store: ProvenanceStore | None = None
    from indexer.backends.embedded.index import EmbeddedIndex

    if isinstance(index, EmbeddedIndex):
        from indexer.provenance_embedded import EmbeddedProvenanceStore

        store = EmbeddedProvenanceStore(index.db)
    elif type(index).__name__ == "OpenSearchIndex":
        # Imported only here: an embedded deployment never loads the OpenSearch client.
        from indexer.backends.opensearch.index import OpenSearchIndex
        from indexer.provenance_opensearch import OpenSearchProvenanceStore

        if isinstance(index, OpenSearchIndex):
            store = OpenSearchProvenanceStore(index.gw, index.names)
    if store is not None:
        _STORES[index] = store
    return store
