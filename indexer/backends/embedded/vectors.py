"""Exact vector search over an in-memory float32 matrix of every chunk vector.

Chunk rows are immutable (an update deletes a document's chunks and inserts new ones) and chunk
rowids only grow (``allocate_chunk_rowids``), so a rowid names one vector forever. The cache is an
append-only buffer of rows sorted by rowid; a snapshot is a prefix of it plus a mask of the rows
alive in one read transaction. When the write generation stored in the file changes (any
process's write bumps it), the next reader lists the chunk rowids of its transaction from the
(doc_rowid, chunk_index) index, appends only rows above the buffer's last rowid and masks the
rows that are gone; the buffer is compacted when a quarter of it is dead. A rowid the buffer
should hold but does not (an old snapshot after a compaction) makes that reader load its own
matrix from the file: slower, never wrong.

Permission filtering happens before ranking and never comes from the cache: the caller passes the
permitted document rows of its own read transaction and only chunks of those documents are
scored, so k permitted results always survive and a revoked document is never scored.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from indexer.backends.embedded.rows import read_generation

_FETCH = 8192
# Compact when this share of the buffer's rows is dead (deleted or replaced chunks).
_DEAD_SHARE = 0.25
_NEXT_ROWID = "next_chunk_rowid"


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


def next_chunk_rowid(conn: sqlite3.Connection) -> int:
    """The first rowid a new chunk may take: above every chunk rowid this file ever held.

    SQLite reuses the largest rowid after it is deleted; a reused rowid would let a cached
    matrix keep the old vector under the new chunk's name. Called in the write transaction
    before anything is deleted, and stored back with ``store_next_chunk_rowid``.
    """
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_NEXT_ROWID,)).fetchone()
    (largest,) = conn.execute("SELECT coalesce(max(chunk_rowid), 0) FROM chunks").fetchone()
    return max(int(row[0]) if row else 0, int(largest) + 1)


def store_next_chunk_rowid(conn: sqlite3.Connection, value: int) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (_NEXT_ROWID, str(value)),
    )


@dataclass(frozen=True)
class VectorSnapshot:
    generation: int
    chunk_rowids: npt.NDArray[np.int64]  # ascending
    doc_rowids: npt.NDArray[np.int64]
    matrix: npt.NDArray[np.float32]
    live: npt.NDArray[np.bool_]  # rows present in the snapshot's read transaction


class _Buffer:
    """Rows sorted by rowid, with spare capacity so appends rarely copy."""

    def __init__(self, dimension: int, capacity: int) -> None:
        self.size = 0
        self.chunk_rowids = np.empty(capacity, dtype=np.int64)
        self.doc_rowids = np.empty(capacity, dtype=np.int64)
        self.matrix = np.empty((capacity, dimension), dtype=np.float32)

    def last_rowid(self) -> int:
        return int(self.chunk_rowids[self.size - 1]) if self.size else 0

    def append(
        self,
        chunk_rowids: npt.NDArray[np.int64],
        doc_rowids: npt.NDArray[np.int64],
        matrix: npt.NDArray[np.float32],
    ) -> _Buffer:
        """This buffer with the rows added (a new, larger one when full).

        Only rows past ``size`` are written, which no snapshot handed out can see.
        """
        needed = self.size + chunk_rowids.size
        target = self
        if needed > self.chunk_rowids.size:
            target = _Buffer(self.matrix.shape[1], max(needed, 2 * self.chunk_rowids.size, 1024))
            target.chunk_rowids[: self.size] = self.chunk_rowids[: self.size]
            target.doc_rowids[: self.size] = self.doc_rowids[: self.size]
            target.matrix[: self.size] = self.matrix[: self.size]
            target.size = self.size
        end = target.size + chunk_rowids.size
        target.chunk_rowids[target.size : end] = chunk_rowids
        target.doc_rowids[target.size : end] = doc_rowids
        target.matrix[target.size : end] = matrix
        target.size = end
        return target

    def snapshot(self, generation: int, live: npt.NDArray[np.bool_]) -> VectorSnapshot:
        n = self.size
        return VectorSnapshot(
            generation, self.chunk_rowids[:n], self.doc_rowids[:n], self.matrix[:n], live
        )


@dataclass
class RefreshStats:
    """What the cache did, for benchmarks and tests."""

    full_loads: int = 0
    incremental: int = 0
    rows_appended: int = 0
    compactions: int = 0


class VectorCache:
    def __init__(self, dimension: int, incremental: bool = True) -> None:
        self.dimension = dimension
        self.incremental = incremental
        self.stats = RefreshStats()
        self._buffer: _Buffer | None = None
        self._snapshot: VectorSnapshot | None = None
        self._lock = threading.Lock()

    def snapshot(self, conn: sqlite3.Connection) -> VectorSnapshot:
        """The matrix as of the caller's read transaction (refreshed if the file changed)."""
        generation = read_generation(conn)
        cached = self._snapshot
        if cached is not None and cached.generation == generation:
            return cached
        with self._lock:
            cached = self._snapshot
            if cached is not None and cached.generation == generation:
                return cached
            # A reader on an older snapshot must not replace (or compact away) a newer matrix.
            newest = cached is None or cached.generation < generation
            if not self.incremental or self._buffer is None:
                loaded = self._load(conn, generation, keep=newest)
            else:
                loaded = self._refresh(conn, generation, self._buffer, newest)
            if newest:
                self._snapshot = loaded
            return loaded

    def _refresh(
        self, conn: sqlite3.Connection, generation: int, buffer: _Buffer, newest: bool
    ) -> VectorSnapshot:
        (packed,) = conn.execute("SELECT group_concat(chunk_rowid) FROM chunks").fetchone()
        current = np.sort(np.array(packed.split(",") if packed else [], dtype=np.int64))
        last = buffer.last_rowid()
        known = current[current <= last]
        held = buffer.chunk_rowids[: buffer.size]
        positions = np.searchsorted(held, known)
        if known.size and (
            positions.max() >= buffer.size or not np.array_equal(held[positions], known)
        ):
            # The buffer lost rows this transaction still sees (compacted after it began).
            return self._load(conn, generation, keep=newest)
        self.stats.incremental += 1
        if current.size > known.size:
            rowids, docs, matrix = self._read_rows(
                conn, "WHERE chunk_rowid > ? ORDER BY chunk_rowid", (last,)
            )
            self.stats.rows_appended += rowids.size
            buffer = buffer.append(rowids, docs, matrix)
        live = np.zeros(buffer.size, dtype=np.bool_)
        live[positions] = True
        live[held.size :] = True
        dead = buffer.size - int(np.count_nonzero(live))
        if newest and dead > _DEAD_SHARE * buffer.size:
            self.stats.compactions += 1
            keep = np.flatnonzero(live)
            compact = _Buffer(self.dimension, max(keep.size + keep.size // 4, 1024))
            buffer = compact.append(
                buffer.chunk_rowids[keep], buffer.doc_rowids[keep], buffer.matrix[keep]
            )
            live = np.ones(buffer.size, dtype=np.bool_)
        self._buffer = buffer
        return buffer.snapshot(generation, live)

    def _load(self, conn: sqlite3.Connection, generation: int, keep: bool = True) -> VectorSnapshot:
        self.stats.full_loads += 1
        rowids, docs, matrix = self._read_rows(conn, "ORDER BY chunk_rowid", ())
        buffer = _Buffer(self.dimension, max(rowids.size + rowids.size // 4, 1024))
        buffer = buffer.append(rowids, docs, matrix)
        if keep:
            self._buffer = buffer
        return buffer.snapshot(generation, np.ones(buffer.size, dtype=np.bool_))

    def _read_rows(
        self, conn: sqlite3.Connection, tail: str, params: tuple[int, ...]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        rowid_parts: list[list[int]] = []
        doc_parts: list[list[int]] = []
        blobs: list[bytes] = []
        cursor = conn.execute(f"SELECT chunk_rowid, doc_rowid, vector FROM chunks {tail}", params)
        while rows := cursor.fetchmany(_FETCH):
            rowid_parts.append([row[0] for row in rows])
            doc_parts.append([row[1] for row in rows])
            blobs.extend(row[2] for row in rows)
        rowids = np.array([r for part in rowid_parts for r in part], dtype=np.int64)
        docs = np.array([d for part in doc_parts for d in part], dtype=np.int64)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, self.dimension)
        return rowids, docs, matrix

    def invalidate(self) -> None:
        with self._lock:
            self._snapshot = None
            self._buffer = None


def permitted_mask(
    snapshot: VectorSnapshot, permitted_doc_rowids: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Which snapshot rows are alive and belong to a permitted document (a bitmap lookup)."""
    if permitted_doc_rowids.size == 0 or snapshot.doc_rowids.size == 0:
        return np.zeros(snapshot.doc_rowids.size, dtype=np.bool_)
    top = int(max(permitted_doc_rowids.max(), snapshot.doc_rowids.max())) + 1
    bitmap = np.zeros(top, dtype=np.bool_)
    bitmap[permitted_doc_rowids] = True
    return bitmap[snapshot.doc_rowids] & snapshot.live


# Below this many rows a second thread's hand-off costs more than half the product saves.
SPLIT_PRODUCT_ROWS = 20_000


def _products(
    matrix: npt.NDArray[np.float32],
    query: npt.NDArray[np.float32],
    pool: ThreadPoolExecutor | None = None,
) -> npt.NDArray[np.float32]:
    """Each row's dot product with ``query``, on the calling thread and at most one of ``pool``'s.

    Not ``matrix @ query``: OpenBLAS runs that on a thread per core, and its threads then spin
    for work for a while after the call, taking both cores from the keyword leg running beside
    this one (and from concurrent queries). At 100k chunks hybrid p95 went 86.9 -> 75.1 ms.
    With a pool (a vector query alone), the second half of the rows is done on a pool thread at
    once: 6.8-7.4 ms at 100k against 10.5 on one thread and 7.2-9.0 on OpenBLAS's two. If no pool
    thread has picked it up when the caller is done with the first half, the caller does it (a
    busy pool would only queue it).
    """
    if pool is None or matrix.shape[0] < SPLIT_PRODUCT_ROWS:
        return _einsum(matrix, query)
    half = matrix.shape[0] // 2
    second = pool.submit(_einsum, matrix[half:], query)
    first = _einsum(matrix[:half], query)
    rest = _einsum(matrix[half:], query) if second.cancel() else second.result()
    return np.concatenate([first, rest])


def _einsum(
    matrix: npt.NDArray[np.float32], query: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    # numpy's own loop, which releases the GIL and starts no threads.
    products: npt.NDArray[np.float32] = np.einsum("ij,j->i", matrix, query)
    return products


def top_k(
    snapshot: VectorSnapshot,
    permitted_doc_rowids: npt.NDArray[np.int64],
    query: npt.NDArray[np.float32],
    k: int,
    pool: ThreadPoolExecutor | None = None,
) -> list[tuple[int, float]]:
    """(chunk rowid, cosine) of the k best chunks among the permitted documents' chunks only."""
    if k <= 0 or permitted_doc_rowids.size == 0 or snapshot.chunk_rowids.size == 0:
        return []
    candidates = np.flatnonzero(permitted_mask(snapshot, permitted_doc_rowids))
    if candidates.size == 0:
        return []
    if candidates.size * 4 < snapshot.chunk_rowids.size:
        scores = _products(snapshot.matrix[candidates], query, pool)
    else:  # most rows qualify: one product over the whole matrix beats copying rows out
        scores = _products(snapshot.matrix, query, pool)[candidates]
    if candidates.size > k:
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
    else:
        best = np.argsort(-scores, kind="stable")
    return [(int(snapshot.chunk_rowids[candidates[i]]), float(scores[i])) for i in best]
