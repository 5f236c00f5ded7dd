"""ACL provenance records in OpenSearch: one plain index ``<prefix>-provenance``, one record per
document (keyed like the document's own record), read in realtime (get, mget)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from indexer.backend import IndexUnavailableError
from indexer.backends.opensearch.aliases import ensure_plain_index
from indexer.backends.opensearch.bulk import BulkPlan, run_bulk
from indexer.backends.opensearch.client import Gateway
from indexer.backends.opensearch.mappings import IndexNames, chunk_key, doc_key
from indexer.provenance import AclProvenance, IndexedAcl

_BODY: dict[str, Any] = {
    "settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
    "mappings": {
        # The record is kept as written and never searched: only the source id is a term.
        "dynamic": False,
        "properties": {
            "doc_id": {"type": "keyword"},
            "source_id": {"type": "keyword"},
            "fingerprint": {"type": "keyword", "index": False},
        },
    },
}


class OpenSearchProvenanceStore:
    def __init__(self, gw: Gateway, names: IndexNames) -> None:
        self.gw = gw
        self.names = names
        self.index = f"{names.prefix}-provenance"
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            ensure_plain_index(self.gw, self.index, _BODY)
            self._ready = True

    def put(self, records: Sequence[AclProvenance]) -> None:
        if not records:
            return
        self._ensure()
        plan = BulkPlan()
        for record in records:
            source = {
                "doc_id": record.doc_id,
                "source_id": record.source_id,
                "fingerprint": record.fingerprint,
                "record": record.model_dump(mode="json"),
            }
            plan.index(self.index, doc_key(record.doc_id), source, record.doc_id)
        failures = run_bulk(self.gw, plan)
        if failures:
            raise IndexUnavailableError(f"provenance writes refused: {list(failures.items())[:3]}")

    def get(self, doc_id: str) -> AclProvenance | None:
        self._ensure()
        response = self.gw.call(
            self.gw.client.get, index=self.index, id=doc_key(doc_id), ignore=[404]
        )
        if not response.get("found"):
            return None
        return AclProvenance.model_validate(response["_source"]["record"])

    def fingerprints_of(self, doc_ids: Sequence[str]) -> dict[str, str]:
        if not doc_ids:
            return {}
        self._ensure()
        response = self.gw.call(
            self.gw.client.mget,
            index=self.index,
            body={"ids": [doc_key(doc_id) for doc_id in doc_ids]},
            _source=["doc_id", "fingerprint"],
        )
        return {
            doc["_source"]["doc_id"]: doc["_source"]["fingerprint"]
            for doc in response["docs"]
            if doc.get("found")
        }

    def delete(self, doc_ids: Sequence[str]) -> None:
        if not doc_ids:
            return
        self._ensure()
        plan = BulkPlan()
        for doc_id in doc_ids:
            plan.delete(self.index, doc_key(doc_id), doc_id)
        run_bulk(self.gw, plan)

    def delete_source(self, source_id: str) -> None:
        self._ensure()
        self.gw.call(
            self.gw.client.delete_by_query,
            index=self.index,
            body={"query": {"term": {"source_id": source_id}}},
            refresh=True,
            conflicts="proceed",
        )

    def indexed_acl(self, doc_id: str) -> IndexedAcl | None:
        record = self.gw.call(
            self.gw.client.get,
            index=self.names.documents,
            id=doc_key(doc_id),
            ignore=[404],
            _source=["doc_id", "source_id", "acl_fingerprint", "indexed_at"],
        )
        if not record.get("found"):
            return None
        # The ACL and title live on the chunks (every chunk of a document has the same ACL).
        chunk = self.gw.call(
            self.gw.client.get,
            index=self.names.chunks,
            id=chunk_key(doc_id, 0),
            ignore=[404],
            _source=["acl", "title"],
        )
        if not chunk.get("found"):
            return None
        source = record["_source"]
        return IndexedAcl(
            doc_id=source["doc_id"],
            source_id=source["source_id"],
            title=chunk["_source"].get("title") or "",
            acl=frozenset(chunk["_source"].get("acl") or ()),
            acl_fingerprint=source["acl_fingerprint"],
            indexed_at=datetime.fromisoformat(source["indexed_at"]),
        )
