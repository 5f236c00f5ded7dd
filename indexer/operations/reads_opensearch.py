"""Whole documents and document ages read from OpenSearch (realtime ``mget`` by id)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from indexer.backends.opensearch.index import OpenSearchIndex
from indexer.backends.opensearch.mappings import chunk_key, doc_key
from indexer.operations.reads import AgedDocument
from indexer.records import ChunkWrite, DocumentWrite

_PAGE = 500


class OpenSearchReader:
    def __init__(self, index: OpenSearchIndex) -> None:
        self.index = index
        self.gw = index.gw
        self.names = index.names

    def export(self, doc_ids: Sequence[str]) -> list[DocumentWrite]:
        if not doc_ids:
            return []
        keys = {doc_key(doc_id): doc_id for doc_id in doc_ids}
        response = self.gw.call(
            self.gw.client.mget, index=self.names.documents, body={"ids": list(keys)}
        )
        # Only committed records: one still False is a write that did not finish.
        records = {
            keys[doc["_id"]]: doc["_source"]
            for doc in response["docs"]
            if doc.get("found") and doc["_source"].get("committed", True)
        }
        wanted = [
            chunk_key(doc_id, i)
            for doc_id, record in records.items()
            for i in range(int(record.get("chunk_hwm") or record.get("chunk_count") or 0))
        ]
        chunks: dict[str, list[dict[str, Any]]] = {doc_id: [] for doc_id in records}
        for start in range(0, len(wanted), _PAGE):
            found = self.gw.call(
                self.gw.client.mget,
                index=self.names.chunks,
                body={"ids": wanted[start : start + _PAGE]},
            )
            for doc in found["docs"]:
                if doc.get("found"):
                    chunks[doc["_source"]["doc_id"]].append(doc["_source"])
        writes = []
        for doc_id, record in sorted(records.items()):
            parts = sorted(chunks[doc_id], key=lambda c: int(c["chunk_index"]))
            if not parts:
                continue  # a document without chunks holds nothing a search can return
            head = parts[0]
            writes.append(
                DocumentWrite(
                    doc_id=doc_id,
                    source_id=record["source_id"],
                    external_id=record["external_id"],
                    title=head["title"],
                    url=head.get("url"),
                    author=head.get("author"),
                    doc_type=head["doc_type"],
                    content_type=head["content_type"],
                    created_at=_date(head.get("created_at")),
                    updated_at=datetime.fromisoformat(head["updated_at"]),
                    breadcrumbs=tuple(head.get("breadcrumbs") or ()),
                    metadata=head.get("metadata") or {},
                    acl=frozenset(head.get("acl") or ()),
                    content_fingerprint=record["content_fingerprint"],
                    acl_fingerprint=record["acl_fingerprint"],
                    fields_fingerprint=record.get("fields_fingerprint") or "",
                    version=record.get("source_version"),
                    indexed_at=datetime.fromisoformat(record["indexed_at"]),
                    chunks=[
                        ChunkWrite(index=int(c["chunk_index"]), text=c["body"], vector=c["vector"])
                        for c in parts
                    ],
                )
            )
        return writes

    def not_modified_since(self, source_id: str, cutoff: datetime) -> Iterator[AgedDocument]:
        self.index.refresh()
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {
                "size": _PAGE,
                "sources": [{"doc_id": {"terms": {"field": "doc_id"}}}],
            }
            if after is not None:
                composite["after"] = after
            body = {
                "size": 0,
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"source_id": source_id}},
                            {"range": {"updated_at": {"lt": cutoff.isoformat()}}},
                        ]
                    }
                },
                "aggs": {
                    "docs": {
                        "composite": composite,
                        "aggs": {
                            "one": {
                                "top_hits": {
                                    "size": 1,
                                    "_source": ["external_id", "updated_at"],
                                }
                            }
                        },
                    }
                },
            }
            response = self.gw.call(self.gw.client.search, index=self.names.chunks, body=body)
            agg = response["aggregations"]["docs"]
            for bucket in agg["buckets"]:
                source = bucket["one"]["hits"]["hits"][0]["_source"]
                yield AgedDocument(
                    doc_id=bucket["key"]["doc_id"],
                    external_id=source["external_id"],
                    updated_at=datetime.fromisoformat(source["updated_at"]),
                )
            after = agg.get("after_key")
            if not agg["buckets"] or after is None:
                return


def _date(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
