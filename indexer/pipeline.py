"""The write side of a sync run: fingerprint, chunk, embed in batches that span documents, write.

Memory stays bounded: at most ``write_batch_docs`` embedded documents wait for their write and at
most ``embed_batch_chunks`` chunks (plus the chunks of one large document) wait for embedding.
What the index holds is looked up per batch of events (``KnownCache.prefetch``), never loaded
for the whole source, so a run's cost and memory follow what changed, not the source's size.
``flush()`` makes every queued operation durable; the runner calls it before saving a checkpoint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from connectors.documents import Acl, AclLayer, SourceDocument, document_id
from indexer import metrics
from indexer.access_journal import AclChange, AclJournalWriter
from indexer.backend import IndexBackend
from indexer.chunking import Chunk, Chunker, ChunkingError
from indexer.embedding import Embedder
from indexer.fingerprints import acl_fingerprint, content_fingerprint, fields_fingerprint
from indexer.provenance import AclProvenance, ProvenanceStore
from indexer.records import AclUpdate, ChunkWrite, DocumentWrite, FieldsUpdate, WriteResult
from indexer.retry import RetryPolicy
from indexer.run_types import ProgressSink
from indexer.settings import ChunkingSettings
from indexer.state_store import DocumentError, RunRecord

MAX_RECORDED_ERRORS = 100


def short(fingerprint: str) -> bytes:
    """128 bits of a hex fingerprint: enough to compare, a third of the memory per document."""
    return bytes.fromhex(fingerprint[:32])


class Known(NamedTuple):
    """What the index holds for one document: shortened fingerprints and the source's version."""

    content: bytes
    acl: bytes
    version: str | None
    fields: bytes = b""


class KnownCache:
    """What the index holds for the documents this run is handling, fetched in batches.

    Entries the run writes are updated here, so a document handled twice in one run is seen as
    the run left it. ``retain`` drops the rest between batches: memory follows the batch.
    """

    def __init__(self, index: IndexBackend, retry: RetryPolicy) -> None:
        self._index = index
        self._retry = retry
        self._entries: dict[str, Known | None] = {}

    def prefetch(self, doc_ids: Iterable[str]) -> None:
        missing = sorted({d for d in doc_ids if d not in self._entries})
        if not missing:
            return
        found = self._retry.call(self._index.fingerprints_of, missing)
        for doc_id in missing:
            fp = found.get(doc_id)
            self._entries[doc_id] = (
                None
                if fp is None
                else Known(
                    short(fp.content_fingerprint),
                    short(fp.acl_fingerprint),
                    fp.version,
                    short(fp.fields_fingerprint),
                )
            )

    def get(self, doc_id: str) -> Known | None:
        self.prefetch([doc_id])
        return self._entries[doc_id]

    def put(self, doc_id: str, known: Known | None) -> None:
        self._entries[doc_id] = known

    def retain(self, doc_ids: set[str]) -> None:
        self._entries = {d: k for d, k in self._entries.items() if d in doc_ids}


class IndexContext:
    """The ``SyncContext`` a connector gets: the index's state as this run keeps it up to date."""

    def __init__(
        self,
        source_id: str,
        index: IndexBackend,
        known: KnownCache,
        *,
        full: bool,
        stop: threading.Event,
        heartbeat: Callable[[], None],
        in_scope: Callable[[str], bool] | None = None,
    ) -> None:
        self._source_id = source_id
        self._in_scope = in_scope
        self._prefix = f"{source_id}:"
        self._index = index
        self._known = known
        self._full = full
        self._stop = stop
        self._heartbeat = heartbeat

    @property
    def full(self) -> bool:
        return self._full

    @property
    def stop(self) -> threading.Event:
        return self._stop

    def heartbeat(self) -> None:
        self._heartbeat()

    def indexed_versions(self, external_ids: Sequence[str]) -> Mapping[str, str]:
        doc_ids = {document_id(self._source_id, e): e for e in external_ids}
        self._known.prefetch(doc_ids)
        versions = {}
        for doc_id, external_id in doc_ids.items():
            known = self._known.get(doc_id)
            if known is not None and known.version is not None:
                versions[external_id] = known.version
        return versions

    def indexed_ids(self) -> Iterator[str]:
        # Streamed from the index in pages: never the whole source in memory. A scope run sees
        # its scope's documents only: a connector that hides what its run did not see (a
        # permissions run failing closed) must never hide another scope's documents.
        for fp in self._index.iter_fingerprints(self._source_id):
            if self._in_scope is None or self._in_scope(fp.external_id):
                yield fp.external_id


class Tally:
    """Counts, per-document errors, metrics and progress of one run, updated in one place."""

    def __init__(self, record: RunRecord, progress: ProgressSink | None) -> None:
        self.record = record
        self.source = record.source_id
        self.progress = progress
        self.failed_ids: set[str] = set()

    def document(self, outcome: str, chunks: int = 0) -> None:
        counts = self.record.counts
        setattr(counts, outcome, getattr(counts, outcome) + 1)
        metrics.DOCUMENTS.labels(self.source, outcome).inc()
        if chunks:
            metrics.CHUNKS_WRITTEN.labels(self.source).inc(chunks)
        if self.progress is not None:
            self.progress.advanced(1, chunks)

    def failure(self, doc_id: str, reason: str) -> None:
        self.failed_ids.add(doc_id)
        if len(self.record.errors) < MAX_RECORDED_ERRORS:
            self.record.errors.append(DocumentError(doc_id=doc_id, reason=reason))
        kind = _reason_kind(reason)
        self.record.error_counts[kind] = self.record.error_counts.get(kind, 0) + 1
        metrics.ERRORS.labels(self.source, "document").inc()
        self.document("failed")

    def embedded(self, chunks: int) -> None:
        self.record.counts.chunks_embedded += chunks
        metrics.EMBEDDINGS.labels(self.source).inc(chunks)


@dataclass(slots=True)
class _PendingDoc:
    document: SourceDocument
    content_fp: str
    fields_fp: str
    acl_fp: str
    chunks: list[Chunk]
    vectors: list[list[float] | None]
    created: bool
    missing: int = field(init=False)

    def __post_init__(self) -> None:
        self.missing = len(self.chunks)


class WritePipeline:
    def __init__(
        self,
        *,
        index: IndexBackend,
        embedder: Embedder,
        chunking: ChunkingSettings,
        model_name: str,
        known: KnownCache,
        tally: Tally,
        retry: RetryPolicy,
        write_batch_docs: int,
        embed_batch_chunks: int,
        tick: Callable[[], None],
        clock: Callable[[], datetime],
        fence: Callable[[], None] | None = None,
        provenance: ProvenanceStore | None = None,
        journal: AclJournalWriter | None = None,
    ) -> None:
        if write_batch_docs < 1 or embed_batch_chunks < 1:
            raise ValueError("write_batch_docs and embed_batch_chunks must be at least 1")
        self._index = index
        self._embedder = embedder
        self._chunker = Chunker(chunking)
        self._chunking = chunking
        self._model_name = model_name
        self.known = known
        self._tally = tally
        self._retry = retry
        self._write_batch = write_batch_docs
        self._embed_batch = embed_batch_chunks
        self._tick = tick
        self._fence = fence or tick
        self._clock = clock
        self._docs: list[_PendingDoc] = []  # in arrival order; embedding completes in order
        self._embed_queue: list[tuple[_PendingDoc, int]] = []
        self._acl_updates: list[AclUpdate] = []
        self._fields_updates: list[FieldsUpdate] = []
        self._deletes: list[str] = []
        self._pending_ids: set[str] = set()
        # Layers of documents handled, written beside the index once their ACL is there.
        self._provenance_store = provenance
        self._provenance: dict[str, AclProvenance] = {}
        # ACL changes are journaled before the write that makes them (indexer.access_journal).
        self._journal = journal

    # -- events ---------------------------------------------------------------------------

    def upsert(self, document: SourceDocument) -> None:
        doc_id = document.doc_id
        self._settle(doc_id)
        acl_fp = acl_fingerprint(document.acl)
        self._note_layers(doc_id, document.source_id, acl_fp, document.acl_layers)
        known = self.known.get(doc_id)
        try:
            content_fp = content_fingerprint(document, self._chunking, self._model_name)
            fields_fp = fields_fingerprint(document)
            if known is not None and known.content == short(content_fp):
                # Same text: nothing is chunked or embedded again, whatever else changed.
                version = document.version if document.version != known.version else None
                fields_changed = known.fields != short(fields_fp)
                if fields_changed:
                    self._queue_fields(document, fields_fp)
                if known.acl != short(acl_fp) or (version is not None and not fields_changed):
                    self._queue_acl(doc_id, document.acl, acl_fp, version=version)
                elif not fields_changed:
                    self._tally.document("unchanged")
                return
            chunks = self._chunker.chunk(document)
        except (ChunkingError, ValueError) as exc:
            # One document that cannot be processed must not stop the run (its deletions and
            # revocations would never apply). UnicodeError is a ValueError.
            if known is not None and known.acl != short(acl_fp):
                # The old text stays searchable until the document is fixed, but never under
                # an ACL the source has since narrowed: apply the new ACL anyway.
                self._queue_acl(doc_id, document.acl, acl_fp)
            self._tally.failure(doc_id, f"cannot process the document: {exc}")
            return
        pending = _PendingDoc(
            document=document,
            content_fp=content_fp,
            fields_fp=fields_fp,
            acl_fp=acl_fp,
            chunks=chunks,
            vectors=[None] * len(chunks),
            created=known is None,
        )
        self._docs.append(pending)
        self._embed_queue.extend((pending, i) for i in range(len(chunks)))
        self._pending_ids.add(doc_id)
        self._embed(force=False)
        self._write(force=False)

    def delete(self, doc_id: str) -> None:
        self._settle(doc_id)
        if self.known.get(doc_id) is None:
            return  # never indexed (or already gone): nothing to do, nothing to count
        self.known.put(doc_id, None)
        self._provenance.pop(doc_id, None)
        self._deletes.append(doc_id)
        self._pending_ids.add(doc_id)
        self._tally.document("deleted")
        if len(self._deletes) >= self._write_batch:
            self._flush_deletes()

    def permissions(self, doc_id: str, acl: Acl, layers: Sequence[AclLayer] = ()) -> None:
        self._settle(doc_id)
        known = self.known.get(doc_id)
        if known is None:
            return  # not in the index (never indexed, or failed): nothing to protect
        acl_fp = acl_fingerprint(acl)
        self._note_layers(doc_id, doc_id.split(":", 1)[0], acl_fp, layers)
        if known.acl == short(acl_fp):
            self._tally.document("unchanged")
            return
        self._queue_acl(doc_id, acl, acl_fp)

    def failed(self, doc_id: str, reason: str) -> None:
        self._tally.failure(doc_id, reason)

    def flush(self) -> None:
        """Embed and write everything queued; on return all of it is durable."""
        self._embed(force=True)
        self._write(force=True)
        self._flush_fields()
        self._flush_acls()
        self._flush_deletes()
        self._flush_provenance(settled_only=False)
        self._pending_ids.clear()

    def forget_settled(self) -> None:
        """Drop what is known of documents no longer in flight (between batches of events)."""
        self._flush_provenance(settled_only=True)
        self.known.retain(self._pending_ids)

    # -- internals ------------------------------------------------------------------------

    def _note_layers(
        self, doc_id: str, source_id: str, acl_fp: str, layers: Sequence[AclLayer]
    ) -> None:
        if self._provenance_store is None or not layers:
            return
        self._provenance[doc_id] = AclProvenance(
            doc_id=doc_id,
            source_id=source_id,
            acl_fingerprint=acl_fp,
            layers=tuple(layers),
            recorded_at=self._clock(),
        )

    def _flush_provenance(self, *, settled_only: bool) -> None:
        """Write the layers of documents whose ACL the index now holds, where they changed.

        Layers whose ACL did not reach the index (a rejected write) are not recorded: the
        record would describe an ACL the index does not have.
        """
        store = self._provenance_store
        if store is None or not self._provenance:
            return
        ready: list[AclProvenance] = []
        for doc_id, record in list(self._provenance.items()):
            if settled_only and doc_id in self._pending_ids:
                continue
            del self._provenance[doc_id]
            known = self.known.get(doc_id)
            if known is not None and known.acl == short(record.acl_fingerprint):
                ready.append(record)
        if not ready:
            return
        stored = self._retry.call(store.fingerprints_of, [r.doc_id for r in ready])
        changed = [r for r in ready if stored.get(r.doc_id) != r.fingerprint]
        if changed:
            self._fence()
            self._retry.call(store.put, changed)

    def _settle(self, doc_id: str) -> None:
        # A second operation on a document still in flight: make the first durable so the two
        # land in the order the source emitted them.
        if doc_id in self._pending_ids:
            self.flush()

    def _queue_acl(self, doc_id: str, acl: Acl, acl_fp: str, *, version: str | None = None) -> None:
        self._acl_updates.append(
            AclUpdate(
                doc_id=doc_id,
                acl=acl,
                acl_fingerprint=acl_fp,
                indexed_at=self._clock(),
                version=version,
            )
        )
        self._pending_ids.add(doc_id)
        if len(self._acl_updates) >= self._write_batch:
            self._flush_acls()

    def _queue_fields(self, document: SourceDocument, fields_fp: str) -> None:
        self._fields_updates.append(
            FieldsUpdate(
                doc_id=document.doc_id,
                url=document.url,
                author=document.author,
                doc_type=document.doc_type,
                created_at=document.created_at,
                updated_at=document.updated_at,
                metadata=document.metadata,
                fields_fingerprint=fields_fp,
                indexed_at=self._clock(),
                version=document.version,
            )
        )
        self._pending_ids.add(document.doc_id)
        if len(self._fields_updates) >= self._write_batch:
            self._flush_fields()

    def _flush_fields(self) -> None:
        if not self._fields_updates:
            return
        updates, self._fields_updates = self._fields_updates, []
        self._fence()
        result: WriteResult = self._retry.call(self._index.update_fields, updates)
        failed = {f.doc_id: f.reason for f in result.failed}
        for update in updates:
            if update.doc_id in failed:
                # The old fields stay, and differ from the source's, so the next run sends them
                # again (no access widens: fields carry no ACL).
                self._tally.failure(
                    update.doc_id, f"index rejected the fields update: {failed[update.doc_id]}"
                )
                continue
            known = self.known.get(update.doc_id)
            if known is not None:
                self.known.put(
                    update.doc_id,
                    known._replace(
                        fields=short(update.fields_fingerprint),
                        version=update.version or known.version,
                    ),
                )
            self._tally.document("fields_updated")
        self._tick()

    def _embed(self, *, force: bool) -> None:
        while len(self._embed_queue) >= self._embed_batch or (force and self._embed_queue):
            batch = self._embed_queue[: self._embed_batch]
            del self._embed_queue[: self._embed_batch]
            texts = [pending.chunks[i].embed_text for pending, i in batch]
            started = time.perf_counter()
            vectors = self._retry.call(self._embedder.embed_documents, texts)
            metrics.EMBED_BATCH_SECONDS.observe(time.perf_counter() - started)
            if len(vectors) != len(texts):
                raise RuntimeError(
                    f"embedder returned {len(vectors)} vectors for {len(texts)} texts"
                )
            for (pending, i), vector in zip(batch, vectors, strict=True):
                pending.vectors[i] = vector
                pending.missing -= 1
            self._tally.embedded(len(texts))
            self._tick()

    def _write(self, *, force: bool) -> None:
        ready = 0
        while ready < len(self._docs) and self._docs[ready].missing == 0:
            ready += 1
        while ready >= self._write_batch or (force and ready):
            take = min(ready, self._write_batch)
            batch = self._docs[:take]
            del self._docs[:take]
            ready -= take
            self._write_batch_now(batch)

    def _write_batch_now(self, batch: list[_PendingDoc]) -> None:
        indexed_at = self._clock()
        writes = [_document_write(p, indexed_at) for p in batch]
        self._fence()
        journaled = self._journal_acls([(p.document.doc_id, p.document.acl) for p in batch])
        result: WriteResult = self._retry.call(self._index.write_documents, writes)
        failed = {f.doc_id: f.reason for f in result.failed}
        self._unjournal(journaled, failed)
        for pending in batch:
            doc = pending.document
            if doc.doc_id in failed:
                self._tally.failure(
                    doc.doc_id, f"index rejected the document: {failed[doc.doc_id]}"
                )
                known = self.known.get(doc.doc_id)
                if known is not None and known.acl != short(pending.acl_fp):
                    # The old copy stays (and keeps its old version, so the connector sends the
                    # document again next run), but under the ACL the source has now.
                    self._queue_acl(doc.doc_id, doc.acl, pending.acl_fp)
                continue
            self.known.put(
                doc.doc_id,
                Known(
                    short(pending.content_fp),
                    short(pending.acl_fp),
                    doc.version,
                    short(pending.fields_fp),
                ),
            )
            self._tally.document("created" if pending.created else "updated", len(pending.chunks))
        self._flush_acls()
        self._tick()

    def _flush_acls(self) -> None:
        if not self._acl_updates:
            return
        updates, self._acl_updates = self._acl_updates, []
        self._fence()
        journaled = self._journal_acls([(u.doc_id, u.acl) for u in updates])
        result: WriteResult = self._retry.call(self._index.replace_acls, updates)
        failed = {f.doc_id: f.reason for f in result.failed}
        self._unjournal(journaled, failed)
        hide: list[str] = []
        for update in updates:
            known = self.known.get(update.doc_id)
            if update.doc_id in failed:
                self._tally.failure(
                    update.doc_id,
                    f"index rejected the ACL update ({failed[update.doc_id]}): "
                    "removed from the index until it can be written",
                )
                if known is not None:
                    # Its old ACL may be wider than the source now allows: hide it the only
                    # way left. The source still has it, so the next run sends it again.
                    hide.append(update.doc_id)
                    self.known.put(update.doc_id, None)
                continue
            if known is not None:
                self.known.put(
                    update.doc_id,
                    known._replace(
                        acl=short(update.acl_fingerprint), version=update.version or known.version
                    ),
                )
            if update.doc_id not in self._tally.failed_ids:
                self._tally.document("acl_updated")
        if hide:
            self._journal_acls([(doc_id, None) for doc_id in hide])
            self._retry.call(self._index.delete_documents, hide)
            self._delete_provenance(hide)
        self._tick()

    def _flush_deletes(self) -> None:
        if not self._deletes:
            return
        doc_ids, self._deletes = self._deletes, []
        self._fence()
        self._journal_acls([(doc_id, None) for doc_id in doc_ids])
        self._retry.call(self._index.delete_documents, doc_ids)
        self._delete_provenance(doc_ids)
        self._tick()

    def _journal_acls(self, changes: Sequence[tuple[str, Acl | None]]) -> list[AclChange]:
        """Journal the ACL changes among ``changes`` (new ACL, None: deleted) before the write.

        Only documents whose ACL differs from what the index holds (by the known fingerprint)
        are looked up: a content update under the same ACL costs the journal nothing.
        """
        if self._journal is None:
            return []
        changing: list[tuple[str, Acl | None]] = []
        created: list[str] = []
        for doc_id, acl in changes:
            known = self.known.get(doc_id)
            if acl is not None and known is not None and known.acl == short(acl_fingerprint(acl)):
                continue
            if known is None and acl is not None:
                created.append(doc_id)
            changing.append((doc_id, acl))
        return self._journal.before_write(changing, created=created)

    def _unjournal(self, journaled: list[AclChange], failed: Mapping[str, str]) -> None:
        if self._journal is not None and journaled and failed:
            self._journal.refused(journaled, failed)

    def _delete_provenance(self, doc_ids: list[str]) -> None:
        if self._provenance_store is not None:
            for doc_id in doc_ids:
                self._provenance.pop(doc_id, None)
            self._retry.call(self._provenance_store.delete, doc_ids)


def _reason_kind(reason: str) -> str:
    """The reason without its particulars ("cannot read: [Errno 13] ..." -> "cannot read")."""
    return reason.split(":", 1)[0].strip()[:80] or "unknown"


def _document_write(pending: _PendingDoc, indexed_at: datetime) -> DocumentWrite:
    doc = pending.document
    chunks = []
    for chunk, vector in zip(pending.chunks, pending.vectors, strict=True):
        assert vector is not None  # guaranteed by missing == 0
        chunks.append(ChunkWrite(index=chunk.index, text=chunk.text, vector=vector))
    return DocumentWrite(
        doc_id=doc.doc_id,
        source_id=doc.source_id,
        external_id=doc.external_id,
        title=doc.title,
        url=doc.url,
        author=doc.author,
        doc_type=doc.doc_type,
        content_type=doc.content_type,
        created_at=doc.created_at,
        updated_at=doc.updated_at,
        breadcrumbs=doc.breadcrumbs,
        metadata=doc.metadata,
        acl=doc.acl,
        content_fingerprint=pending.content_fp,
        acl_fingerprint=pending.acl_fp,
        fields_fingerprint=pending.fields_fp,
        version=doc.version,
        chunks=chunks,
        indexed_at=indexed_at,
    )
