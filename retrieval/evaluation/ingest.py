"""Index a BEIR corpus straight into an index backend, one synthetic source, one org-wide ACL.

The corpus is not a tree of files, so it bypasses connectors and the sync runner and writes
``DocumentWrite`` batches with the real embedder. Each document is one chunk: title and abstract
embedded together, as BEIR's dense baselines do, so numbers compare with published ones.
Content fingerprints include the model name, so a second run over an already built index embeds
nothing and several modes (or several evaluations) share one build.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from pydantic import BaseModel

from indexer.backend import IndexBackend
from indexer.embedding import Embedder
from indexer.records import ChunkWrite, DocumentWrite
from retrieval.evaluation.beir import BeirDocument, iter_corpus

# BEIR documents have no time of their own; a fixed one keeps the index reproducible.
CORPUS_TIME = datetime(2020, 1, 1, tzinfo=UTC)


class IngestStats(BaseModel):
    documents: int = 0
    embedded: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    seconds: float = 0.0

    def as_floats(self) -> dict[str, float]:
        return {key: float(value) for key, value in self.model_dump().items()}


def beir_acl(tenant: str) -> frozenset[str]:
    return frozenset({f"org:{tenant}"})


def embedding_text(document: BeirDocument) -> str:
    return f"{document.title}\n{document.text}".strip() or document.id


def content_fingerprint(document: BeirDocument, model_name: str) -> str:
    digest = hashlib.sha256()
    for part in (model_name, "whole-document-v1", document.title, document.text):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def acl_fingerprint(acl: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(acl)).encode("utf-8")).hexdigest()


def _batches(items: Iterable[BeirDocument], size: int) -> Iterator[list[BeirDocument]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def ingest_beir(
    backend: IndexBackend,
    embedder: Embedder,
    root: Path,
    *,
    source_id: str,
    tenant: str,
    model_name: str,
    batch_size: int = 256,
    on_progress: Callable[[IngestStats], None] | None = None,
) -> IngestStats:
    started = time.perf_counter()
    backend.ensure_schema()
    existing = {
        fp.external_id: fp.content_fingerprint for fp in backend.iter_fingerprints(source_id)
    }
    acl = beir_acl(tenant)
    acl_fp = acl_fingerprint(acl)
    stats = IngestStats()
    seen: set[str] = set()
    for batch in _batches(iter_corpus(root), batch_size):
        todo: list[tuple[BeirDocument, str]] = []
        for document in batch:
            seen.add(document.id)
            stats.documents += 1
            fingerprint = content_fingerprint(document, model_name)
            if existing.get(document.id) == fingerprint:
                stats.unchanged += 1
            else:
                todo.append((document, fingerprint))
        if todo:
            vectors = embedder.embed_documents([embedding_text(d) for d, _ in todo])
            writes = [
                DocumentWrite(
                    doc_id=f"{source_id}:{document.id}",
                    source_id=source_id,
                    external_id=document.id,
                    title=document.title,
                    doc_type="abstract",
                    content_type="text/plain",
                    updated_at=CORPUS_TIME,
                    acl=acl,
                    content_fingerprint=fingerprint,
                    acl_fingerprint=acl_fp,
                    chunks=[
                        ChunkWrite(index=0, text=document.text or document.title, vector=vector)
                    ],
                )
                for (document, fingerprint), vector in zip(todo, vectors, strict=True)
            ]
            result = backend.write_documents(writes)
            stats.embedded += len(result.written)
            stats.failed += len(result.failed)
        if on_progress is not None:
            on_progress(stats)
    stale = sorted(set(existing) - seen)
    if stale:
        backend.delete_documents([f"{source_id}:{external_id}" for external_id in stale])
        stats.deleted = len(stale)
    backend.refresh()
    stats.seconds = time.perf_counter() - started
    return stats
