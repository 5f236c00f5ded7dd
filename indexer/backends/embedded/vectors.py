"""Exact vector search over an in-memory float32 matrix of every chunk vector.

The matrix is loaded from the file once and reused until the write generation stored in the file
changes (any process's write bumps it), so a 100k-chunk index costs one matrix-vector product per
query. Vectors are unit length, so the dot product is the cosine similarity.

Permission filtering happens before ranking: the caller passes the permitted document rows and
only chunks of those documents are scored and ranked, so k permitted results always survive.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from indexer.backends.embedded.rows import read_generation

_FETCH = 8192


def to_blob(vector: Sequence[float], dimension: int) -> bytes:
    """A unit-length float32 blob, or ValueError for a vector the index cannot hold."""
    array = np.asarray(vector, dtype=np.float32)
    if array.shape != (dimension,):
        raise ValueError(f"vector has {array.size} dimensions, the index expects {dimension}")
    if not np.all(np.isfinite(array)):
        raise ValueError("vector contains NaN or infinite values")
    return normalise(array).tobytes()


def normalise(array: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norm = float(np.linalg.norm(array))
    if norm == 0.0 or math.isclose(norm, 1.0, rel_tol=1e-6):
        return array
    return (array / norm).astype(np.float32)


@dataclass(frozen=True)
class VectorSnapshot:
    generation: int
    chunk_rowids: npt.NDArray[np.int64]
    doc_rowids: npt.NDArray[np.int64]
    matrix: npt.NDArray[np.float32]


class VectorCache:
    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._snapshot: VectorSnapshot | None = None
        self._lock = threading.Lock()

    def snapshot(self, conn: sqlite3.Connection) -> VectorSnapshot:
        """The matrix as of the caller's read transaction (loading it if the file changed)."""
        generation = read_generation(conn)
        cached = self._snapshot
        if cached is not None and cached.generation == generation:
            return cached
        with self._lock:
            cached = self._snapshot
            if cached is not None and cached.generation == generation:
                return cached
            loaded = self._load(conn, generation)
            # A reader on an older snapshot must not replace a newer matrix.
            if cached is None or cached.generation < generation:
                self._snapshot = loaded
            return loaded

    def _load(self, conn: sqlite3.Connection, generation: int) -> VectorSnapshot:
        (count,) = conn.execute("SELECT count(*) FROM chunks").fetchone()
        chunk_rowids = np.empty(count, dtype=np.int64)
        doc_rowids = np.empty(count, dtype=np.int64)
        matrix = np.empty((count, self.dimension), dtype=np.float32)
        cursor = conn.execute("SELECT chunk_rowid, doc_rowid, vector FROM chunks")
        position = 0
        while rows := cursor.fetchmany(_FETCH):
            end = position + len(rows)
            chunk_rowids[position:end] = [row[0] for row in rows]
            doc_rowids[position:end] = [row[1] for row in rows]
            packed = np.frombuffer(b"".join(row[2] for row in rows), dtype=np.float32)
            matrix[position:end] = packed.reshape(len(rows), self.dimension)
            position = end
        return VectorSnapshot(generation, chunk_rowids, doc_rowids, matrix)

    def invalidate(self) -> None:
        with self._lock:
            self._snapshot = None


def top_k(
    snapshot: VectorSnapshot,
    permitted_doc_rowids: npt.NDArray[np.int64],
    query: npt.NDArray[np.float32],
    k: int,
) -> list[tuple[int, float]]:
    """(chunk rowid, cosine) of the k best chunks among the permitted documents' chunks only."""
    if k <= 0 or permitted_doc_rowids.size == 0 or snapshot.chunk_rowids.size == 0:
        return []
    candidates = np.flatnonzero(np.isin(snapshot.doc_rowids, permitted_doc_rowids))
    if candidates.size == 0:
        return []
    if candidates.size * 4 < snapshot.chunk_rowids.size:
        scores = snapshot.matrix[candidates] @ query
    else:  # most rows qualify: one product over the whole matrix beats copying rows out
        scores = (snapshot.matrix @ query)[candidates]
    if candidates.size > k:
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
    else:
        best = np.argsort(-scores, kind="stable")
    return [(int(snapshot.chunk_rowids[candidates[i]]), float(scores[i])) for i in best]
