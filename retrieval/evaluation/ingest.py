"""Index a BEIR corpus straight into an index backend, one synthetic source, one org-wide ACL.

The corpus is not a tree of files, so it bypasses connectors and the sync runner and writes
``DocumentWrite`` batches with the real embedder. Each document is one chunk: title and abstract
embedded together, as BEIR's dense baselines do, so numbers compare with published ones.
Content fingerprints include the model name, so a second run over an already built index embeds
nothing and several modes (or several evaluations) share one build. An optional vector cache
(``.npz``, keyed by those fingerprints) lets a second backend, or ``bench/query.py``, reuse the
vectors of the first build instead of embedding the corpus again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from indexer.backend import IndexBackend
from indexer.embedding import Embedder
from indexer.records import ChunkWrite, DocumentWrite
from retrieval.evaluation.beir import BeirDocument, iter_corpus

# BEIR documents have no time of their own; a fixed one keeps the index reproducible.
CORPUS_TIME = datetime(2020, 1, 1, tzinfo=UTC)


class IngestStats(BaseModel):
    documents: int = 0
    embedded: int = 0  # documents written (new or changed)
    cached_vectors: int = 0  # of those, vectors taken from the vector cache
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


class VectorCache:
    """Vectors by content fingerprint in one ``.npz`` file; a missing file is an empty cache."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._vectors: dict[str, npt.NDArray[np.float32]] = {}
        self._dirty = False
        if path is not None and path.is_file():
            with np.load(path) as data:
                self._vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    def get(self, key: str) -> npt.NDArray[np.float32] | None:
        return self._vectors.get(key)

    def put(self, key: str, vector: npt.NDArray[np.float32]) -> None:
        self._vectors[key] = vector
        self._dirty = True

    def save(self) -> None:
        if self.path is None or not self._dirty or not self._vectors:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self._vectors)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.asarray(keys), vectors=np.stack([self._vectors[k] for k in keys]))
        tmp.replace(self.path)
        self._dirty = False


def embed_with_cache(
    documents: list[BeirDocument], embedder: Embedder, model_name: str, cache: VectorCache
) -> tuple[list[npt.NDArray[np.float32]], int]:
    """Vectors of ``documents`` in order and how many came from the cache (the rest embedded)."""
    keys = [content_fingerprint(d, model_name) for d in documents]
    missing = [i for i, key in enumerate(keys) if cache.get(key) is None]
    if missing:
        fresh = embedder.embed_documents([embedding_text(documents[i]) for i in missing])
        for i, vector in zip(missing, fresh, strict=True):
            cache.put(keys[i], np.asarray(vector, dtype=np.float32))
    vectors = [cache.get(key) for key in keys]
    return [v for v in vectors if v is not None], len(documents) - len(missing)


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
    vector_cache: Path | None = None,
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
    cache = VectorCache(vector_cache)
    seen: set[str] = set()
    try:
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
                vectors, cached = embed_with_cache(
                    [d for d, _ in todo], embedder, model_name, cache
                )
                stats.cached_vectors += cached
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
                            ChunkWrite(
                                index=0,
                                text=document.text or document.title,
                                vector=vector.tolist(),
                            )
                        ],
                    )
                    for (document, fingerprint), vector in zip(todo, vectors, strict=True)
                ]
                result = backend.write_documents(writes)
                stats.embedded += len(result.written)
                stats.failed += len(result.failed)
            if on_progress is not None:
                on_progress(stats)
    finally:
        # Vectors already paid for survive a failed run (index down mid-ingest).
        cache.save()
    stale = sorted(set(existing) - seen)
    if stale:
        backend.delete_documents([f"{source_id}:{external_id}" for external_id in stale])
        stats.deleted = len(stale)
    backend.refresh()
    stats.seconds = time.perf_counter() - started
    return stats
