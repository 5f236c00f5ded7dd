"""Re-indexing into a new index while the old one serves: copy, catch up, swap.

Searches and sync runs keep using the old index during the copy. Every document is copied
with its fingerprints and ``indexed_at``; a document written, re-permissioned or deleted in the
old index while the copy runs shows a different fingerprint (or is gone) on the next pass and
is copied again (or deleted from the new index). Passes repeat until one finds nothing to do;
then a last pass runs with writers held off (the embedded file's write lock, or every lease of
every source on OpenSearch) and the new index takes the old one's place in the same exclusive
step. So nothing written while the copy ran is lost, and nothing deleted comes back.

A new embedding model re-embeds each chunk (``embedder``) from the title, breadcrumbs and stored
chunk text; the section headings the pipeline adds are not stored, so they come back when the
document is next rewritten. Chunking is unchanged.
The content fingerprints are carried over as they were, so a run with a new model name still
sees its documents as changed and rewrites them: set the new model before re-indexing only
when that cost is acceptable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from indexer.backend import IndexBackend
from indexer.embedding import Embedder
from indexer.operations.reads import DocumentReader
from indexer.records import ChunkWrite, DocFingerprint, DocumentWrite

PAGE = 100
# Catch-up passes before the exclusive one; each pass copies only what changed meanwhile.
MAX_PASSES = 5

_Key = tuple[str, str, str, str | None, str]


class ReindexReport(BaseModel):
    old: str
    new: str
    documents: int
    passes: int
    recopied: int  # documents copied again because they changed during the copy
    removed: int  # documents deleted from the new index because they left the old one
    failed: list[str]


def _key(fp: DocFingerprint | DocumentWrite) -> _Key:
    indexed = fp.indexed_at.isoformat() if fp.indexed_at else ""
    return (fp.content_fingerprint, fp.acl_fingerprint, fp.fields_fingerprint, fp.version, indexed)


@dataclass
class Copier:
    """Copies documents from ``old`` to ``new`` and remembers what it copied."""

    old: IndexBackend
    new: IndexBackend
    reader: DocumentReader
    embedder: Embedder | None = None
    on_page: Callable[[int], None] | None = None
    copied: dict[str, _Key] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    recopied: int = 0
    removed: int = 0
    passes: int = 0

    def sources(self) -> list[str]:
        return sorted(self.old.stats().sources)

    def first_pass(self) -> None:
        self.passes += 1
        for source_id in self.sources():
            page: list[str] = []
            for fp in self.old.iter_fingerprints(source_id):
                page.append(fp.doc_id)
                if len(page) >= PAGE:
                    self._copy(page)
                    page = []
            if page:
                self._copy(page)

    def catch_up(self) -> int:
        """One pass over the old index; returns how many documents it copied or removed."""
        self.passes += 1
        self.old.refresh()
        seen: set[str] = set()
        changed: list[str] = []
        for source_id in self.sources():
            for fp in self.old.iter_fingerprints(source_id):
                seen.add(fp.doc_id)
                if self.copied.get(fp.doc_id) != _key(fp):
                    changed.append(fp.doc_id)
        gone = [doc_id for doc_id in self.copied if doc_id not in seen]
        for start in range(0, len(changed), PAGE):
            self.recopied += self._copy(changed[start : start + PAGE], again=True)
        if gone:
            self.new.delete_documents(gone)
            for doc_id in gone:
                del self.copied[doc_id]
            self.removed += len(gone)
        return len(changed) + len(gone)

    def converge(self, max_passes: int = MAX_PASSES) -> None:
        for _ in range(max_passes):
            if self.catch_up() == 0:
                return

    def _copy(self, doc_ids: Sequence[str], *, again: bool = False) -> int:
        writes = self.reader.export(doc_ids)
        exported = {w.doc_id for w in writes}
        # Gone between the listing and the export: absent from the new index as well.
        vanished = [d for d in doc_ids if d not in exported and d in self.copied]
        if vanished:
            self.new.delete_documents(vanished)
            for doc_id in vanished:
                del self.copied[doc_id]
            self.removed += len(vanished)
        if self.embedder is not None:
            writes = _reembed(writes, self.embedder)
        result = self.new.write_documents(writes)
        keys = {w.doc_id: _key(w) for w in writes}
        for doc_id in result.written:
            self.copied[doc_id] = keys[doc_id]
            self.failed.pop(doc_id, None)
        for failure in result.failed:
            self.failed[failure.doc_id] = failure.reason
            self.copied.pop(failure.doc_id, None)
        if self.on_page is not None:
            self.on_page(len(self.copied))
        return len(result.written) if again else 0

    def report(self, old: str, new: str) -> ReindexReport:
        return ReindexReport(
            old=old,
            new=new,
            documents=len(self.copied),
            passes=self.passes,
            recopied=self.recopied,
            removed=self.removed,
            failed=sorted(self.failed)[:100],
        )


def _reembed(writes: list[DocumentWrite], embedder: Embedder) -> list[DocumentWrite]:
    texts = [_embed_text(write, chunk.text) for write in writes for chunk in write.chunks]
    vectors = iter(embedder.embed_documents(texts)) if texts else iter(())
    return [
        write.model_copy(
            update={
                "chunks": [
                    ChunkWrite(index=c.index, text=c.text, vector=list(next(vectors)))
                    for c in write.chunks
                ]
            }
        )
        for write in writes
    ]


def _embed_text(write: DocumentWrite, text: str) -> str:
    # As ``indexer.chunking.embedding_text`` without the section path, which is not stored.
    header = " > ".join(part for part in (write.title.strip(), *write.breadcrumbs) if part)
    return f"{header}\n\n{text}" if header else text
