"""The embedded index backend: FTS5 BM25 and exact vector search in one SQLite file."""

from __future__ import annotations

import html
import itertools
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from connectors.documents import MetadataValue
from indexer.backend import IndexUnavailableError
from indexer.backends.embedded.database import Database
from indexer.backends.embedded.fts_query import fts_terms
from indexer.backends.embedded.keyword import TermCounts, rank_chunks, snippets
from indexer.backends.embedded.rows import (
    HIT_COLUMNS,
    bump_generation,
    bump_search_stamp,
    chunk_id,
    hit_from_row,
    permitted_documents_clause,
    permitted_rowids_query,
    read_generation,
    read_search_stamp,
    timestamp,
    to_json,
)
from indexer.backends.embedded.schema import current_version, is_current, upgrade
from indexer.backends.embedded.spread import SpreadStatements
from indexer.backends.embedded.vectors import (
    VectorCache,
    next_chunk_rowid,
    normalise,
    store_next_chunk_rowid,
    to_blob,
    top_k,
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
    metadata_pairs,
    stamp,
)

# bm25() column weights (title, body): a query term in the title counts double.
TITLE_WEIGHT = 2.0
BODY_WEIGHT = 1.0
SNIPPET_TOKENS = 24
FINGERPRINT_PAGE = 500
_NO_FILTERS = SearchFilters()
# Threads that run hybrid queries' vector legs and keyword statements beside the caller's
# thread (each keeps its own connection): more than the cores would only queue them inside
# SQLite and numpy.
LEG_THREADS = 2
# FTS5 marks matches with private-use characters rather than tags, so the document's own text
# can be escaped before the real tags go in: documents are untrusted, highlights are HTML.
_OPEN, _CLOSE = "\ue000", "\ue001"
_MARKERS = re.compile(f"([{_OPEN}{_CLOSE}])")
_SNIPPET_ARGS = (
    f"snippet(chunk_text, 1, '{_OPEN}', '{_CLOSE}', '…', {SNIPPET_TOKENS}),"
    f" highlight(chunk_text, 0, '{_OPEN}', '{_CLOSE}')"
)


class EmbeddedIndex:
    name = "embedded"

    def __init__(self, db: Database, dimension: int) -> None:
        self.db = db
        self.dimension = dimension
        self._vectors = VectorCache(dimension)
        self._term_counts = TermCounts()
        self._legs: tuple[int, ThreadPoolExecutor] | None = None
        self._legs_lock = threading.Lock()

    # -- schema -----------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        with self._guard():
            # Read first: a current file needs no write, so it still opens for searches on a
            # full disk or a read-only file system.
            with self.db.read() as conn:
                if is_current(conn, self.dimension):
                    return
            with self.db.write() as conn:
                upgrade(conn, self.dimension)

    # -- writes -----------------------------------------------------------------------------

    def write_documents(self, writes: Sequence[DocumentWrite]) -> WriteResult:
        result = WriteResult()
        if not writes:
            return result
        indexed_at = datetime.now(UTC).isoformat()
        with self._guard(), self.db.write() as conn:
            rowids = itertools.count(next_chunk_rowid(conn))
            for write in writes:
                try:
                    blobs = [to_blob(chunk.vector, self.dimension) for chunk in write.chunks]
                except ValueError as exc:
                    result.failed.append(WriteFailure(doc_id=write.doc_id, reason=str(exc)))
                    continue
                # A savepoint per document: a bad document is undone alone, the batch commits.
                conn.execute("SAVEPOINT document")
                try:
                    self._replace_document(
                        conn, write, blobs, stamp(write.indexed_at, indexed_at), rowids
                    )
                except (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError) as exc:
                    conn.execute("ROLLBACK TO document")
                    conn.execute("RELEASE document")
                    result.failed.append(WriteFailure(doc_id=write.doc_id, reason=str(exc)))
                else:
                    conn.execute("RELEASE document")
                    result.written.append(write.doc_id)
            if result.written:
                store_next_chunk_rowid(conn, next(rowids))
                bump_generation(conn)
                bump_search_stamp(conn)
        return result

    def _replace_document(
        self,
        conn: sqlite3.Connection,
        write: DocumentWrite,
        blobs: list[bytes],
        indexed_at: str,
        rowids: Iterator[int],
    ) -> None:
        values = (
            write.source_id,
            write.external_id,
            write.title,
            write.url,
            write.author,
            write.doc_type,
            write.content_type,
            write.created_at.isoformat() if write.created_at else None,
            write.updated_at.isoformat(),
            timestamp(write.updated_at),
            to_json(list(write.breadcrumbs)),
            to_json(write.metadata),
            to_json(sorted(write.acl)),
            write.content_fingerprint,
            write.acl_fingerprint,
            write.fields_fingerprint,
            indexed_at,
            write.version,
        )
        row = conn.execute(
            "SELECT doc_rowid FROM documents WHERE doc_id = ?", (write.doc_id,)
        ).fetchone()
        if row is None:
            cursor = conn.execute(
                "INSERT INTO documents (source_id, external_id, title, url, author, doc_type,"
                " content_type, created_at, updated_at, updated_ts, breadcrumbs, metadata, acl,"
                " content_fingerprint, acl_fingerprint, fields_fingerprint, indexed_at,"
                " source_version, doc_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, write.doc_id),
            )
            # Always set after an INSERT into a rowid table; None only in sqlite3's type.
            doc_rowid = cast(int, cursor.lastrowid)
        else:
            doc_rowid = row[0]
            conn.execute(
                "UPDATE documents SET source_id = ?, external_id = ?, title = ?, url = ?,"
                " author = ?, doc_type = ?, content_type = ?, created_at = ?, updated_at = ?,"
                " updated_ts = ?, breadcrumbs = ?, metadata = ?, acl = ?,"
                " content_fingerprint = ?, acl_fingerprint = ?, fields_fingerprint = ?,"
                " indexed_at = ?, source_version = ? WHERE doc_rowid = ?",
                (*values, doc_rowid),
            )
            self._delete_chunks(conn, [doc_rowid])
            conn.execute("DELETE FROM doc_principals WHERE doc_rowid = ?", (doc_rowid,))
        conn.executemany(
            "INSERT INTO doc_principals (principal, doc_rowid) VALUES (?, ?)",
            [(principal, doc_rowid) for principal in sorted(write.acl)],
        )
        self._replace_metadata(conn, doc_rowid, write.metadata)
        for chunk, blob in zip(write.chunks, blobs, strict=True):
            chunk_rowid = next(rowids)
            conn.execute(
                "INSERT INTO chunks (chunk_rowid, doc_rowid, chunk_index, vector)"
                " VALUES (?, ?, ?, ?)",
                (chunk_rowid, doc_rowid, chunk.index, blob),
            )
            conn.execute(
                "INSERT INTO chunk_text (rowid, title, body) VALUES (?, ?, ?)",
                (chunk_rowid, write.title, chunk.text),
            )

    @staticmethod
    def _delete_chunks(conn: sqlite3.Connection, doc_rowids: list[int]) -> None:
        ids = to_json(doc_rowids)
        conn.execute(
            "DELETE FROM chunk_text WHERE rowid IN (SELECT chunk_rowid FROM chunks"
            " WHERE doc_rowid IN (SELECT value FROM json_each(?)))",
            (ids,),
        )
        conn.execute(
            "DELETE FROM chunks WHERE doc_rowid IN (SELECT value FROM json_each(?))", (ids,)
        )

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        if not doc_ids:
            return
        with self._guard(), self.db.write() as conn:
            doc_rowids = [
                row[0]
                for row in conn.execute(
                    "SELECT doc_rowid FROM documents"
                    " WHERE doc_id IN (SELECT value FROM json_each(?))",
                    (to_json(list(doc_ids)),),
                )
            ]
            if not doc_rowids:
                return
            # Deleting the largest rowids would let SQLite hand them out again.
            store_next_chunk_rowid(conn, next_chunk_rowid(conn))
            self._delete_chunks(conn, doc_rowids)
            # doc_principals rows go with their document (ON DELETE CASCADE).
            conn.execute(
                "DELETE FROM documents WHERE doc_rowid IN (SELECT value FROM json_each(?))",
                (to_json(doc_rowids),),
            )
            bump_generation(conn)
            bump_search_stamp(conn)

    def replace_acls(self, updates: Sequence[AclUpdate]) -> WriteResult:
        result = WriteResult()
        if not updates:
            return result
        indexed_at = datetime.now(UTC).isoformat()
        with self._guard(), self.db.write() as conn:
            for update in updates:
                row = conn.execute(
                    "SELECT doc_rowid FROM documents WHERE doc_id = ?", (update.doc_id,)
                ).fetchone()
                if row is None:
                    result.failed.append(
                        WriteFailure(doc_id=update.doc_id, reason="document is not in the index")
                    )
                    continue
                conn.execute(
                    "UPDATE documents SET acl = ?, acl_fingerprint = ?, indexed_at = ?,"
                    " source_version = COALESCE(?, source_version) WHERE doc_rowid = ?",
                    (
                        to_json(sorted(update.acl)),
                        update.acl_fingerprint,
                        stamp(update.indexed_at, indexed_at),
                        update.version,
                        row[0],
                    ),
                )
                conn.execute("DELETE FROM doc_principals WHERE doc_rowid = ?", (row[0],))
                conn.executemany(
                    "INSERT INTO doc_principals (principal, doc_rowid) VALUES (?, ?)",
                    [(principal, row[0]) for principal in sorted(update.acl)],
                )
                result.written.append(update.doc_id)
            if result.written:
                bump_search_stamp(conn)
        return result

    def update_fields(self, updates: Sequence[FieldsUpdate]) -> WriteResult:
        result = WriteResult()
        if not updates:
            return result
        indexed_at = datetime.now(UTC).isoformat()
        # The fields live once, on the document row (chunks hold only text and vectors): no
        # chunk is touched and the vector matrix stays valid, so no generation bump.
        with self._guard(), self.db.write() as conn:
            for update in updates:
                row = conn.execute(
                    "SELECT doc_rowid FROM documents WHERE doc_id = ?", (update.doc_id,)
                ).fetchone()
                if row is None:
                    result.failed.append(
                        WriteFailure(doc_id=update.doc_id, reason="document is not in the index")
                    )
                    continue
                conn.execute("SAVEPOINT fields")
                try:
                    conn.execute(
                        "UPDATE documents SET url = ?, author = ?, doc_type = ?, created_at = ?,"
                        " updated_at = ?, updated_ts = ?, metadata = ?, fields_fingerprint = ?,"
                        " indexed_at = ?, source_version = COALESCE(?, source_version)"
                        " WHERE doc_rowid = ?",
                        (
                            update.url,
                            update.author,
                            update.doc_type,
                            update.created_at.isoformat() if update.created_at else None,
                            update.updated_at.isoformat(),
                            timestamp(update.updated_at),
                            to_json(update.metadata),
                            update.fields_fingerprint,
                            stamp(update.indexed_at, indexed_at),
                            update.version,
                            row[0],
                        ),
                    )
                    self._replace_metadata(conn, row[0], update.metadata)
                except (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError) as exc:
                    conn.execute("ROLLBACK TO fields")
                    conn.execute("RELEASE fields")
                    result.failed.append(WriteFailure(doc_id=update.doc_id, reason=str(exc)))
                else:
                    conn.execute("RELEASE fields")
                    result.written.append(update.doc_id)
            if result.written:
                bump_search_stamp(conn)
        return result

    @staticmethod
    def _replace_metadata(
        conn: sqlite3.Connection,
        doc_rowid: int,
        metadata: dict[str, MetadataValue],
    ) -> None:
        conn.execute("DELETE FROM doc_metadata WHERE doc_rowid = ?", (doc_rowid,))
        conn.executemany(
            "INSERT INTO doc_metadata (key, value, doc_rowid) VALUES (?, ?, ?)",
            [(key, value, doc_rowid) for key, value in metadata_pairs(metadata)],
        )

    # -- reads ------------------------------------------------------------------------------

    def iter_fingerprints(self, source_id: str) -> Iterator[DocFingerprint]:
        # Keyset pages in short read transactions: bounded memory, and the caller may write
        # between pages without holding a snapshot open for the whole stream.
        after = ""
        while True:
            with self._guard(), self.db.read() as conn:
                rows = conn.execute(
                    f"SELECT {_FINGERPRINT_COLUMNS} FROM documents"
                    " WHERE source_id = ? AND doc_id > ? ORDER BY doc_id LIMIT ?",
                    (source_id, after, FINGERPRINT_PAGE),
                ).fetchall()
            for row in rows:
                yield _fingerprint(row)
            if len(rows) < FINGERPRINT_PAGE:
                return
            after = rows[-1][0]

    def fingerprints_of(self, doc_ids: Sequence[str]) -> dict[str, DocFingerprint]:
        if not doc_ids:
            return {}
        with self._guard(), self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {_FINGERPRINT_COLUMNS} FROM documents"
                " WHERE doc_id IN (SELECT value FROM json_each(?))",
                (to_json(list(doc_ids)),),
            ).fetchall()
        return {row[0]: _fingerprint(row) for row in rows}

    def keyword_search(
        self,
        query: str,
        principals: frozenset[str],
        filters: SearchFilters,
        k: int,
        *,
        highlight: bool = True,
    ) -> list[Hit]:
        terms = fts_terms(query)
        if not terms or not principals or k <= 0:
            return []
        clause, params = permitted_documents_clause(principals, filters)
        with self._guard(), self.db.read() as conn:
            # Also inside a caller's transaction: a helper that sees another state than this
            # snapshot's (the caller's writes, or later commits) reads another search stamp.
            spread = SpreadStatements(self.db, self._leg_pool(), conn)
            ranked = rank_chunks(
                conn,
                terms,
                clause,
                params,
                k,
                (TITLE_WEIGHT, BODY_WEIGHT),
                self._term_counts,
                statements=spread,
            )
            found = self._hits_for_chunks(
                conn, [(r.chunk_rowid, -r.rank) for r in ranked], principals, filters
            )
            if not highlight:
                return [hit for _, hit in found]
            marks = _highlights(snippets(conn, terms, [rowid for rowid, _ in found], _SNIPPET_ARGS))
        return [hit.model_copy(update={"highlights": marks.get(rowid, [])}) for rowid, hit in found]

    def highlights(
        self, query: str, chunk_ids: Sequence[str], principals: frozenset[str]
    ) -> dict[str, list[str]]:
        terms = fts_terms(query)
        if not terms or not principals or not chunk_ids:
            return {}
        clause, params = permitted_documents_clause(principals, _NO_FILTERS)
        # Only chunks the caller may see are read: the ACL condition is in the query again.
        sql = f"""
            SELECT c.chunk_rowid, d.doc_id, c.chunk_index
            FROM json_each(?) j
            JOIN documents d ON d.doc_id = json_extract(j.value, '$[0]')
            JOIN chunks c
                ON c.doc_rowid = d.doc_rowid AND c.chunk_index = json_extract(j.value, '$[1]')
            WHERE {clause}
        """
        wanted = []
        for chunk in chunk_ids:
            doc_id, _, index = chunk.rpartition("#")
            if doc_id and index.isdigit():
                wanted.append([doc_id, int(index)])
        with self._guard(), self.db.read() as conn:
            ids = {
                row[0]: chunk_id(row[1], row[2])
                for row in conn.execute(sql, (to_json(wanted), *params))
            }
            marks = _highlights(snippets(conn, terms, list(ids), _SNIPPET_ARGS))
        return {ids[rowid]: marked for rowid, marked in marks.items()}

    def vector_search(
        self, vector: Sequence[float], principals: frozenset[str], filters: SearchFilters, k: int
    ) -> list[Hit]:
        return self._vector_leg(vector, principals, filters, k, self._leg_pool())

    def _vector_leg(
        self,
        vector: Sequence[float],
        principals: frozenset[str],
        filters: SearchFilters,
        k: int,
        pool: ThreadPoolExecutor | None,
    ) -> list[Hit]:
        """The vector leg; ``pool`` takes half its product (none beside a keyword leg)."""
        query = self._query_vector(vector)
        if not principals or k <= 0:
            return []
        with self._guard(), self.db.read() as conn:
            snapshot = self._vectors.snapshot(conn)
            permitted = self._permitted_doc_rowids(conn, principals, filters)
            best = top_k(snapshot, permitted, query, k, pool)
            return [hit for _, hit in self._hits_for_chunks(conn, best, principals, filters)]

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
        if self.db.connection().in_transaction:  # inside a caller's snapshot: keep to it
            return self.legs_in_one_snapshot(
                query, vector, principals, filters, k, highlight=highlight
            )
        # The legs run at once on two connections (SQLite and numpy release the GIL), so part
        # of the vector leg's time hides behind the keyword leg's (1.05x p50, 1.14x p95 at
        # 100k chunks on 2 cores: bench/hybrid_legs.py). Both must rank one state of the
        # index; when a write committed between their snapshots, they run again on one.
        vector_leg = self._leg_pool().submit(
            self._stamped_vector_search, vector, principals, filters, k
        )
        try:
            with self._guard(), self.db.read() as conn:
                stamp = read_search_stamp(conn)
                keyword = self.keyword_search(query, principals, filters, k, highlight=highlight)
        except BaseException:
            wait([vector_leg])  # its read ends before the caller may close the index
            raise
        vector_stamp, vector_hits = vector_leg.result()
        if stamp != vector_stamp:
            return self.legs_in_one_snapshot(
                query, vector, principals, filters, k, highlight=highlight
            )
        return keyword, vector_hits

    def legs_in_one_snapshot(
        self,
        query: str,
        vector: Sequence[float],
        principals: frozenset[str],
        filters: SearchFilters,
        k: int,
        *,
        highlight: bool = True,
    ) -> tuple[list[Hit], list[Hit]]:
        """Both legs one after the other in one read snapshot: ``hybrid_candidates``' fallback."""
        with self._guard(), self.db.read():
            return (
                self.keyword_search(query, principals, filters, k, highlight=highlight),
                self.vector_search(vector, principals, filters, k),
            )

    def _stamped_vector_search(
        self, vector: Sequence[float], principals: frozenset[str], filters: SearchFilters, k: int
    ) -> tuple[int, list[Hit]]:
        with self._guard(), self.db.read() as conn:
            # The keyword leg's halves have the other pool thread and the caller's.
            return read_search_stamp(conn), self._vector_leg(vector, principals, filters, k, None)

    def _leg_pool(self) -> ThreadPoolExecutor:
        # A forked child (a Celery worker) inherits the pool but not its threads: a new one.
        with self._legs_lock:
            if self._legs is None or self._legs[0] != os.getpid():
                pool = ThreadPoolExecutor(LEG_THREADS, thread_name_prefix="embedded-vector-leg")
                self._legs = (os.getpid(), pool)
            return self._legs[1]

    def get_document_chunks(self, doc_id: str, principals: frozenset[str]) -> list[Hit]:
        if not principals:
            return []
        clause, params = permitted_documents_clause(principals, _NO_FILTERS)
        sql = f"""
            SELECT {HIT_COLUMNS}
            FROM documents d
            JOIN chunks c ON c.doc_rowid = d.doc_rowid
            JOIN chunk_text t ON t.rowid = c.chunk_rowid
            WHERE d.doc_id = ? AND {clause}
            ORDER BY c.chunk_index
        """
        with self._guard(), self.db.read() as conn:
            rows = conn.execute(sql, (doc_id, *params)).fetchall()
        return [hit_from_row(row, score=0.0, highlights=[]) for row in rows]

    def stats(self) -> IndexStats:
        with self._guard(), self.db.read() as conn:
            version = current_version(conn)
            per_source = conn.execute(
                "SELECT d.source_id, count(DISTINCT d.doc_rowid), count(c.chunk_rowid)"
                " FROM documents d LEFT JOIN chunks c ON c.doc_rowid = d.doc_rowid"
                " GROUP BY d.source_id"
            ).fetchall()
        sources = {row[0]: SourceStats(documents=row[1], chunks=row[2]) for row in per_source}
        return IndexStats(
            backend=self.name,
            schema_version=version,
            documents=sum(s.documents for s in sources.values()),
            chunks=sum(s.chunks for s in sources.values()),
            sources=sources,
            size_bytes=self._size_bytes(),
        )

    def refresh(self) -> None:
        """Merge the full-text index's segments if chunks changed since the last merge.

        A committed write is visible to the next read already. Each write transaction adds
        FTS5 segments; a query with snippets reads every segment per row, so after a bulk
        load of 100k chunks the keyword leg ran ten times slower unmerged. Called after each
        sync run and bulk load; a merge of 100k chunks takes about half a second.
        """
        with self._guard(), self.db.read() as conn:
            if _fts_merged(conn):
                return
        try:
            with self._guard(), self.db.write() as conn:
                if _fts_merged(conn):
                    return
                conn.execute("INSERT INTO chunk_text (chunk_text) VALUES ('optimize')")
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('fts_merged_generation', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(read_generation(conn)),),
                )
        except IndexUnavailableError:
            # Only a speed-up: a file that cannot take the write (read-only, locked past the
            # timeout) answers the same, and the next refresh tries again.
            return

    def close(self) -> None:
        with self._legs_lock:
            legs, self._legs = self._legs, None
        if legs is not None and legs[0] == os.getpid():
            legs[1].shutdown(wait=True)
        self.db.close()

    # -- helpers ----------------------------------------------------------------------------

    def _query_vector(self, vector: Sequence[float]) -> npt.NDArray[np.float32]:
        array = np.asarray(vector, dtype=np.float32)
        if array.shape != (self.dimension,):
            raise ValueError(
                f"query vector has {array.size} dimensions, the index expects {self.dimension}"
            )
        if not np.all(np.isfinite(array)):
            raise ValueError("query vector contains NaN or infinite values")
        return normalise(array)

    @staticmethod
    def _permitted_doc_rowids(
        conn: sqlite3.Connection, principals: frozenset[str], filters: SearchFilters
    ) -> npt.NDArray[np.int64]:
        sql, params = permitted_rowids_query(principals, filters)
        (packed,) = conn.execute(sql, params).fetchone()
        if not packed:
            return np.empty(0, dtype=np.int64)
        return np.array(packed.split(","), dtype=np.int64)

    @staticmethod
    def _hits_for_chunks(
        conn: sqlite3.Connection,
        ranked: list[tuple[int, float]],
        principals: frozenset[str],
        filters: SearchFilters,
    ) -> list[tuple[int, Hit]]:
        """(chunk rowid, hit) in ``ranked`` order for the chunks still permitted."""
        if not ranked:
            return []
        # The ACL condition again, on the rows read back: the matrix may predate an ACL change
        # that committed after it was loaded.
        clause, params = permitted_documents_clause(principals, filters)
        sql = f"""
            SELECT {HIT_COLUMNS}, c.chunk_rowid
            FROM chunks c
            JOIN chunk_text t ON t.rowid = c.chunk_rowid
            JOIN documents d ON d.doc_rowid = c.doc_rowid
            WHERE c.chunk_rowid IN (SELECT value FROM json_each(?)) AND {clause}
        """
        ids = json.dumps([rowid for rowid, _ in ranked])
        rows: dict[int, Any] = {row[-1]: row for row in conn.execute(sql, (ids, *params))}
        return [
            (rowid, hit_from_row(rows[rowid], score=score, highlights=[]))
            for rowid, score in ranked
            if rowid in rows
        ]

    def _size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            with suppress(OSError):
                total += os.path.getsize(f"{self.db.path}{suffix}")
        return total

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """A SQLite failure (locked, corrupt, disk full) is a systemic failure of the index."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise IndexUnavailableError(f"embedded index {self.db.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.IntegrityError):
                raise
            raise IndexUnavailableError(f"embedded index {self.db.path}: {exc}") from exc


def _fts_merged(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT value FROM meta WHERE key = 'fts_merged_generation'").fetchone()
    return row is not None and row[0] == str(read_generation(conn))


def _highlights(marked: dict[int, tuple[str, str]]) -> dict[int, list[str]]:
    """The body's snippet if it holds a match, else the title if it does, else nothing."""
    out: dict[int, list[str]] = {}
    for rowid, (body, title) in marked.items():
        if _OPEN in body:
            out[rowid] = [_marked_html(body)]
        elif _OPEN in title:
            out[rowid] = [_marked_html(title)]
        else:
            out[rowid] = []
    return out


def _marked_html(marked: str) -> str:
    """Escaped text with ``<em>`` tags where FTS5 put its markers.

    A document may contain the marker characters itself; tags are emitted only in open/close
    order and closed at the end, so the worst such text can do is a spurious, balanced mark.
    """
    out: list[str] = []
    inside = False
    for piece in _MARKERS.split(marked):
        if piece == _OPEN:
            if not inside:
                out.append("<em>")
                inside = True
        elif piece == _CLOSE:
            if inside:
                out.append("</em>")
                inside = False
        else:
            out.append(html.escape(piece))
    if inside:
        out.append("</em>")
    return "".join(out)


_FINGERPRINT_COLUMNS = (
    "doc_id, external_id, content_fingerprint, acl_fingerprint, indexed_at, source_version,"
    " fields_fingerprint"
)


def _fingerprint(row: Sequence[Any]) -> DocFingerprint:
    return DocFingerprint(
        doc_id=row[0],
        external_id=row[1],
        content_fingerprint=row[2],
        acl_fingerprint=row[3],
        indexed_at=datetime.fromisoformat(row[4]),
        version=row[5],
        fields_fingerprint=row[6],
    )
