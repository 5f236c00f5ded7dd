"""Query vectors embedded once and cached, so benchmarks that compare backends or stores on the
same queries do not pay (or time) query embedding again.

Keys are a SHA-256 of the model name and the query text; the file is the ``.npz`` format of
``retrieval.evaluation.ingest.VectorCache``. Uncached queries are embedded in batches of 32
(``embed_documents``; the same model call as ``embed_query``, padded to the batch's longest query
with an attention mask: the vectors equal one-at-a-time ones to float rounding).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from indexer.embedding import make_embedder
from indexer.settings import EmbeddingSettings
from retrieval.evaluation.beir import BeirDocument
from retrieval.evaluation.ingest import VectorCache, content_fingerprint

MODEL = "all-MiniLM-L6-v2"
DEFAULT_CACHE = Path("var/bench/scifact-queries.vectors.npz")


def query_key(text: str, model: str = MODEL) -> str:
    return hashlib.sha256(f"{model}\0query-v1\0{text}".encode()).hexdigest()


def query_vectors(
    queries: Mapping[str, str], cache_path: Path = DEFAULT_CACHE, model: str = MODEL
) -> tuple[dict[str, npt.NDArray[np.float32]], float]:
    """Vectors by query id, and the seconds spent embedding the ones the cache lacked."""
    cache = VectorCache(cache_path)
    texts = dict.fromkeys(queries.values())
    missing = [text for text in texts if cache.get(query_key(text, model)) is None]
    seconds = 0.0
    if missing:
        embedder = make_embedder(EmbeddingSettings(model=model))
        started = time.perf_counter()
        for i in range(0, len(missing), 32):
            batch = missing[i : i + 32]
            for text, vector in zip(batch, embedder.embed_documents(batch), strict=True):
                cache.put(query_key(text, model), np.asarray(vector, np.float32))
        seconds = time.perf_counter() - started
        cache.save()
    out: dict[str, npt.NDArray[np.float32]] = {}
    for qid, text in queries.items():
        cached = cache.get(query_key(text, model))
        assert cached is not None
        out[qid] = cached
    return out, seconds


def corpus_vectors(
    corpus: Sequence[BeirDocument], path: Path, model: str = MODEL
) -> npt.NDArray[np.float32]:
    """The corpus vectors ``permindex eval`` cached in ``path``, in corpus order."""
    cache = VectorCache(path)
    rows = [cache.get(content_fingerprint(document, model)) for document in corpus]
    if any(row is None for row in rows):
        raise SystemExit(f"{path} lacks corpus vectors; run permindex eval first")
    return np.stack([row for row in rows if row is not None])
