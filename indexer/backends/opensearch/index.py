"""The OpenSearch index backend: BM25 and Lucene HNSW k-NN behind aliases, ACL-filtered inside.

Two indices, both behind aliases: ``{prefix}-chunks`` (one document per chunk, with the document's
fields, ACL and vector) and ``{prefix}-documents`` (one record per document: fingerprints and chunk
bookkeeping). Chunk ids are ``{doc}#{index}``, so a rewrite overwrites chunks in place and
deletes the tail up to the record's high-water mark, by id: no search-based delete that would
miss writes not yet refreshed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from opensearchpy.exceptions import TransportError

from indexer.backend import SCHEMA_VERSION, IndexUnavailableError
from indexer.backends.opensearch.aliases import (
    alias_target,
    ensure_aliased_index,
    index_meta,
    rebuild,
)
from indexer.backends.opensearch.bulk import BulkPlan, run_bulk
from indexer.backends.opensearch.client import RETRYABLE_STATUS, Gateway, RetryableBulkError
from indexer.backends.opensearch.mappings import (
    IndexNames,
    chunk_key,
    chunks_body,
    doc_key,
    documents_body,
)
from indexer.backends.opensearch.queries import (
    SOURCE_FIELDS,
    highlight_body,
    highlights_of,
    keyword_body,
    keyword_hits,
    metadata_terms,
    unit_vector,
    vector_body,
    vector_hits,
)
from indexer.records import (
    AclUpdate,
    DocFingerprint,
    DocumentWrite,
    FieldsUpdate,
    Hit,
    IndexStats,
    SearchFilters,
    SourceStats,
    WriteFailure,
    WriteResult,
    stamp,
)
from indexer.settings import OpenSearchSettings

# An update of every chunk of a document plus its record: an ACL update or a fields update.
U = TypeVar("U", AclUpdate, FieldsUpdate)

FINGERPRINT_PAGE = 500
MAX_CHUNKS_PER_DOCUMENT = 10_000
MAX_K = 10_000
MAX_SOURCES = 10_000
# Below the node's index.max_terms_count (65,536) for a terms query.
MAX_TERMS = 10_000
# Replaces whole top-level fields of a chunk's source (update_fields).
_PUT_ALL = "ctx._source.putAll(params.fields)"


class OpenSearchIndex:
    name = "opensearch"

    def __init__(self, gw: Gateway, settings: OpenSearchSettings, dimension: int) -> None:
        self.gw = gw
        self.settings = settings
        self.dimension = dimension
        self.names = IndexNames(settings.index_prefix)
        self._schema_ready = False

    # -- schema -----------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        ensure_aliased_index(self.gw, self.names.chunks, chunks_body(self.settings, self.dimension))
        ensure_aliased_index(self.gw, self.names.documents, documents_body())
        self._schema_ready = True

    def _ready(self) -> None:
        # Opened while the node was down: create the indices on first use instead.
        if not self._schema_ready:
            self.ensure_schema()

    def rebuild(self) -> None:
        """Rebuild both indices from their current contents and swap the aliases atomically.

        Searches keep working throughout; use it after changing the analyzer or HNSW parameters.
        Writes made during the copy are lost, so run it while no sync holds a lease.
        """
        rebuild(self.gw, self.names.chunks, chunks_body(self.settings, self.dimension))
        rebuild(self.gw, self.names.documents, documents_body())

    def concrete_indices(self) -> tuple[str | None, str | None]:
        return (
            alias_target(self.gw, self.names.chunks),
            alias_target(self.gw, self.names.documents),
        )

    # -- writes -----------------------------------------------------------------------------

    def write_documents(self, writes: Sequence[DocumentWrite]) -> WriteResult:
        """Two bulk requests: (1) chunks, stale tails, high-water marks; (2) the records.

        A document's record (its fingerprints) is written only when all its chunks were, so a
        run interrupted between the requests sees the old fingerprints and writes it again. A
        document with a failed chunk is removed entirely (it may be half overwritten): it is
        reported failed, and the next run retries it from scratch.
        """
        self._ready()
        result = WriteResult()
        valid: list[tuple[DocumentWrite, list[list[float]]]] = []
        for write in writes:
            try:
                if len(write.chunks) > MAX_CHUNKS_PER_DOCUMENT:
                    limit = MAX_CHUNKS_PER_DOCUMENT
                    raise ValueError(f"{len(write.chunks)} chunks (limit {limit})")
                # The dimension is checked by the index itself (a per-item mapping failure).
                vectors = [unit_vector(chunk.vector) for chunk in write.chunks]
            except ValueError as exc:
                result.failed.append(WriteFailure(doc_id=write.doc_id, reason=str(exc)))
                continue
            valid.append((write, vectors))
        if not valid:
            return result
        high_water = self._high_water_marks([w.doc_id for w, _ in valid])
        now = datetime.now(UTC).isoformat()

        first = BulkPlan()
        marks: dict[str, int] = {}
        for write, vectors in valid:
            count = len(write.chunks)
            mark = max(high_water.get(write.doc_id, 0), count)
            marks[write.doc_id] = mark
            first.update(
                self.names.documents,
                doc_key(write.doc_id),
                {
                    "doc": {"chunk_hwm": mark},
                    "upsert": {
                        **_record_identity(write.doc_id, write.source_id, write.external_id),
                        "content_fingerprint": "",
                        "acl_fingerprint": "",
                        "indexed_at": now,
                        "chunk_count": 0,
                        "chunk_hwm": mark,
                        "committed": False,
                    },
                },
                write.doc_id,
            )
            fields = _chunk_fields(write)
            for chunk, vector in zip(write.chunks, vectors, strict=True):
                first.index(
                    self.names.chunks,
                    chunk_key(write.doc_id, chunk.index),
                    {**fields, "chunk_index": chunk.index, "body": chunk.text, "vector": vector},
                    write.doc_id,
                )
            written_indices = {chunk.index for chunk in write.chunks}
            for stale in range(mark):
                if stale not in written_indices:
                    first.delete(self.names.chunks, chunk_key(write.doc_id, stale), write.doc_id)
        failures = run_bulk(self.gw, first)

        second = BulkPlan()
        for write, _ in valid:
            if write.doc_id in failures:
                for index in range(marks[write.doc_id]):
                    second.delete(self.names.chunks, chunk_key(write.doc_id, index), write.doc_id)
                second.delete(self.names.documents, doc_key(write.doc_id), write.doc_id)
                continue
            count = len(write.chunks)
            second.index(
                self.names.documents,
                doc_key(write.doc_id),
                {
                    **_record_identity(write.doc_id, write.source_id, write.external_id),
                    "content_fingerprint": write.content_fingerprint,
                    "acl_fingerprint": write.acl_fingerprint,
                    "fields_fingerprint": write.fields_fingerprint,
                    "source_version": write.version,
                    "indexed_at": stamp(write.indexed_at, now),
                    "chunk_count": count,
                    # Chunk indices are 0..count-1 when the indexer numbers them; a sparse
                    # numbering keeps the highest index + 1 so every chunk stays reachable.
                    "chunk_hwm": max([count, *(c.index + 1 for c in write.chunks)]),
                    "committed": True,
                },
                write.doc_id,
            )
        second_failures = run_bulk(self.gw, second)
        for write, _ in valid:
            reason = failures.get(write.doc_id) or second_failures.get(write.doc_id)
            if reason is None:
                result.written.append(write.doc_id)
            else:
                result.failed.append(WriteFailure(doc_id=write.doc_id, reason=reason))
        return result

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        self._ready()
        if not doc_ids:
            return
        marks = self._high_water_marks(list(doc_ids))
        plan = BulkPlan()
        for doc_id in doc_ids:
            for index in range(marks.get(doc_id, 0)):
                plan.delete(self.names.chunks, chunk_key(doc_id, index), doc_id)
            plan.delete(self.names.documents, doc_key(doc_id), doc_id)
        failures = run_bulk(self.gw, plan)
        if failures:
            raise IndexUnavailableError(f"OpenSearch refused deletes: {failures}")
        # A sweep by query for chunks no record accounts for (a write interrupted before its
        # record existed); chunks written by id above are already gone.
        ids = list(doc_ids)
        for start in range(0, len(ids), MAX_TERMS):
            self.gw.call(
                self.gw.client.delete_by_query,
                index=self.names.chunks,
                body={"query": {"terms": {"doc_id": ids[start : start + MAX_TERMS]}}},
                conflicts="proceed",
                refresh=False,
            )

    def replace_acls(self, updates: Sequence[AclUpdate]) -> WriteResult:
        return self._update_documents(
            updates,
            lambda update: {"doc": {"acl": sorted(update.acl)}},
            lambda update: {"acl_fingerprint": update.acl_fingerprint},
        )

    def update_fields(self, updates: Sequence[FieldsUpdate]) -> WriteResult:
        """Like ``replace_acls``: every chunk's stored fields, then (if all took) the record.

        A document with a failed chunk keeps its old fields fingerprint, so the next run sends
        the update again; chunks already updated by then are simply updated once more.
        """
        # A script, not a partial "doc": a partial update merges objects, so metadata keys
        # the source dropped would survive. Same fixed params on a retry: idempotent.
        return self._update_documents(
            updates,
            lambda update: {
                "script": {
                    "lang": "painless",
                    "source": _PUT_ALL,
                    "params": {"fields": _stored_fields(update)},
                }
            },
            lambda update: {"fields_fingerprint": update.fields_fingerprint},
        )

    def _update_documents(
        self,
        updates: Sequence[U],
        chunk_update: Callable[[U], dict[str, Any]],
        record_fields: Callable[[U], dict[str, Any]],
    ) -> WriteResult:
        """Update every chunk of each document, then its record (only if every chunk took), so
        a half-applied update keeps the old fingerprint and is sent again by the next run."""
        self._ready()
        result = WriteResult()
        if not updates:
            return result
        records = self._records([u.doc_id for u in updates])
        now = datetime.now(UTC).isoformat()
        plan = BulkPlan()
        present: list[U] = []
        for update in updates:
            record = records.get(update.doc_id)
            if record is None:
                result.failed.append(
                    WriteFailure(doc_id=update.doc_id, reason="document is not in the index")
                )
                continue
            present.append(update)
            count = int(record.get("chunk_count", 0))
            mark = max(count, int(record.get("chunk_hwm", 0)))
            body = chunk_update(update)
            for index in range(mark):
                plan.update(
                    self.names.chunks,
                    chunk_key(update.doc_id, index),
                    body,
                    update.doc_id,
                    # Beyond chunk_count only leftovers of an interrupted write may exist.
                    missing_ok=index >= count,
                )
        failures = run_bulk(self.gw, plan)
        records_plan = BulkPlan()
        for update in present:
            if update.doc_id not in failures:
                version = {"source_version": update.version} if update.version else {}
                fields = {**record_fields(update), "indexed_at": stamp(update.indexed_at, now)}
                records_plan.update(
                    self.names.documents,
                    doc_key(update.doc_id),
                    {"doc": {**fields, **version}},
                    update.doc_id,
                )
        failures.update(run_bulk(self.gw, records_plan))
        for update in present:
            if update.doc_id in failures:
                result.failed.append(
                    WriteFailure(doc_id=update.doc_id, reason=failures[update.doc_id])
                )
            else:
                result.written.append(update.doc_id)
        return result

    # -- reads ------------------------------------------------------------------------------

    def iter_fingerprints(self, source_id: str) -> Iterator[DocFingerprint]:
        self._ready()
        # Keyset pages sorted by doc_id: bounded memory, and the caller may write between pages.
        self.gw.call(self.gw.client.indices.refresh, index=self.names.documents)
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": FINGERPRINT_PAGE,
                "query": {"term": {"source_id": source_id}},
                "sort": [{"doc_id": "asc"}],
                "_source": list(_FINGERPRINT_FIELDS),
            }
            if after is not None:
                body["search_after"] = after
            page = self.gw.call(self.gw.client.search, index=self.names.documents, body=body)
            hits = page["hits"]["hits"]
            for raw in hits:
                yield _fingerprint(raw["_source"])
            if len(hits) < FINGERPRINT_PAGE:
                return
            after = hits[-1]["sort"]

    def fingerprints_of(self, doc_ids: Sequence[str]) -> dict[str, DocFingerprint]:
        """Realtime reads (mget): what a write just acknowledged is seen without a refresh."""
        self._ready()
        if not doc_ids:
            return {}
        response = self.gw.call(
            self.gw.client.mget,
            index=self.names.documents,
            body={"ids": [doc_key(doc_id) for doc_id in doc_ids]},
            _source=list(_FINGERPRINT_FIELDS),
        )
        found = (_fingerprint(doc["_source"]) for doc in response["docs"] if doc.get("found"))
        return {fp.doc_id: fp for fp in found}

    def keyword_search(
        self,
        query: str,
        principals: frozenset[str],
        filters: SearchFilters,
        k: int,
        *,
        highlight: bool = True,
    ) -> list[Hit]:
        self._ready()
        if not principals or k <= 0 or not query.strip():
            return []
        body = keyword_body(query, principals, filters, min(k, MAX_K), highlight=highlight)
        return keyword_hits(self._search(body))

    def highlights(
        self, query: str, chunk_ids: Sequence[str], principals: frozenset[str]
    ) -> dict[str, list[str]]:
        self._ready()
        if not principals or not chunk_ids or not query.strip():
            return {}
        return highlights_of(self._search(highlight_body(query, chunk_ids, principals)))

    def vector_search(
        self, vector: Sequence[float], principals: frozenset[str], filters: SearchFilters, k: int
    ) -> list[Hit]:
        self._ready()
        query = unit_vector(vector, self.dimension)
        if not principals or k <= 0:
            return []
        return vector_hits(self._search(vector_body(query, principals, filters, min(k, MAX_K))))

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
        self._ready()
        unit = unit_vector(vector, self.dimension)
        if not principals or k <= 0:
            return [], []
        k = min(k, MAX_K)
        if not query.strip():
            return [], self.vector_search(unit, principals, filters, k)
        # Both legs in one _msearch round trip.
        header = {"index": self.names.chunks}
        body = [
            header,
            keyword_body(query, principals, filters, k, highlight=highlight),
            header,
            vector_body(unit, principals, filters, k),
        ]
        responses = self.gw.call(self._msearch, body)
        return keyword_hits(responses[0]), vector_hits(responses[1])

    def get_document_chunks(self, doc_id: str, principals: frozenset[str]) -> list[Hit]:
        self._ready()
        if not principals:
            return []
        body = {
            "size": MAX_CHUNKS_PER_DOCUMENT,
            "_source": SOURCE_FIELDS,
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"doc_id": doc_id}},
                        {"terms": {"acl": sorted(principals)}},
                    ]
                }
            },
            "sort": [{"chunk_index": "asc"}],
        }
        hits = keyword_hits(self._search(body))
        return [hit.model_copy(update={"score": 0.0}) for hit in hits]

    def stats(self) -> IndexStats:
        self._ready()

        def per_source(index: str) -> dict[str, int]:
            body = {
                "size": 0,
                "aggs": {"sources": {"terms": {"field": "source_id", "size": MAX_SOURCES}}},
            }
            response = self.gw.call(self.gw.client.search, index=index, body=body)
            buckets = response["aggregations"]["sources"]["buckets"]
            return {b["key"]: int(b["doc_count"]) for b in buckets}

        documents = per_source(self.names.documents)
        chunks = per_source(self.names.chunks)
        sources = {
            source: SourceStats(documents=documents.get(source, 0), chunks=chunks.get(source, 0))
            for source in sorted(set(documents) | set(chunks))
        }
        target = alias_target(self.gw, self.names.chunks)
        version = int(index_meta(self.gw, target).get("schema_version", 0)) if target else 0
        size = self.gw.call(
            self.gw.client.indices.stats,
            index=f"{self.names.chunks},{self.names.documents}",
            metric="store",
        )
        return IndexStats(
            backend=self.name,
            schema_version=version or SCHEMA_VERSION,
            documents=sum(s.documents for s in sources.values()),
            chunks=sum(s.chunks for s in sources.values()),
            sources=sources,
            size_bytes=int(size["_all"]["primaries"]["store"]["size_in_bytes"]),
        )

    def refresh(self) -> None:
        self._ready()
        self.gw.call(
            self.gw.client.indices.refresh, index=f"{self.names.chunks},{self.names.documents}"
        )

    def close(self) -> None:
        self.gw.close()

    # -- helpers ----------------------------------------------------------------------------

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = self.gw.call(
            self.gw.client.search, index=self.names.chunks, body=body
        )
        return response

    def _msearch(self, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
        responses: list[dict[str, Any]] = self.gw.client.msearch(body=body)["responses"]
        for response in responses:
            if "error" in response:
                status = int(response.get("status", 500))
                if status in RETRYABLE_STATUS:
                    raise RetryableBulkError(str(response["error"]))
                raise TransportError(status, str(response["error"]), response["error"])
        return responses

    def _records(self, doc_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Realtime reads (mget) of the records of ``doc_ids``: no refresh needed."""
        if not doc_ids:
            return {}
        keys = {doc_key(doc_id): doc_id for doc_id in doc_ids}
        response = self.gw.call(
            self.gw.client.mget,
            index=self.names.documents,
            body={"ids": list(keys)},
            _source=["chunk_count", "chunk_hwm"],
        )
        return {keys[doc["_id"]]: doc["_source"] for doc in response["docs"] if doc.get("found")}

    def _high_water_marks(self, doc_ids: list[str]) -> dict[str, int]:
        return {
            doc_id: max(int(record.get("chunk_count", 0)), int(record.get("chunk_hwm", 0)))
            for doc_id, record in self._records(doc_ids).items()
        }


_FINGERPRINT_FIELDS = (
    "doc_id",
    "external_id",
    "content_fingerprint",
    "acl_fingerprint",
    "indexed_at",
    "source_version",
    "fields_fingerprint",
)


def _fingerprint(source: dict[str, Any]) -> DocFingerprint:
    return DocFingerprint(
        doc_id=source["doc_id"],
        external_id=source["external_id"],
        content_fingerprint=source["content_fingerprint"],
        acl_fingerprint=source["acl_fingerprint"],
        indexed_at=datetime.fromisoformat(source["indexed_at"]),
        version=source.get("source_version"),
        # Records written before schema 3 have none: "" differs from every real fingerprint.
        fields_fingerprint=source.get("fields_fingerprint") or "",
    )


def _record_identity(doc_id: str, source_id: str, external_id: str) -> dict[str, str]:
    return {"doc_id": doc_id, "source_id": source_id, "external_id": external_id}


def _chunk_fields(write: DocumentWrite) -> dict[str, Any]:
    return {
        "doc_id": write.doc_id,
        "source_id": write.source_id,
        "external_id": write.external_id,
        "content_type": write.content_type,
        "title": write.title,
        "breadcrumbs": list(write.breadcrumbs),
        **_stored_fields(write),
        "acl": sorted(write.acl),
    }


def _stored_fields(fields: DocumentWrite | FieldsUpdate) -> dict[str, Any]:
    """The chunk fields update_fields replaces (title and breadcrumbs are content: they are
    embedded with the text, so a change to them is a rewrite)."""
    return {
        "url": fields.url,
        "author": fields.author,
        "doc_type": fields.doc_type,
        "created_at": fields.created_at.isoformat() if fields.created_at else None,
        "updated_at": fields.updated_at.isoformat(),
        "metadata": fields.metadata,
        "metadata_terms": metadata_terms(fields.metadata),
    }
