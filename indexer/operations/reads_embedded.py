"""Whole documents and document ages read from the embedded file."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime

import numpy as np

from indexer.backends.embedded.database import Database
from indexer.backends.embedded.rows import timestamp, to_json
from indexer.operations.reads import AgedDocument
from indexer.records import ChunkWrite, DocumentWrite

_PAGE = 500
_COLUMNS = (
    "doc_rowid, doc_id, source_id, external_id, title, url, author, doc_type, content_type,"
    " created_at, updated_at, breadcrumbs, metadata, acl, content_fingerprint, acl_fingerprint,"
    " fields_fingerprint, source_version, indexed_at"
)


class EmbeddedReader:
    def __init__(self, db: Database) -> None:
        self.db = db

    def export(self, doc_ids: Sequence[str]) -> list[DocumentWrite]:
        if not doc_ids:
            return []
        # One snapshot for the documents and their chunks (nested in the caller's if any).
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM documents"
                " WHERE doc_id IN (SELECT value FROM json_each(?)) ORDER BY doc_id",
                (to_json(list(doc_ids)),),
            ).fetchall()
            chunks: dict[int, list[ChunkWrite]] = {row[0]: [] for row in rows}
            for doc_rowid, chunk_index, vector, body in conn.execute(
                "SELECT c.doc_rowid, c.chunk_index, c.vector, t.body FROM chunks c"
                " JOIN chunk_text t ON t.rowid = c.chunk_rowid"
                " WHERE c.doc_rowid IN (SELECT value FROM json_each(?))"
                " ORDER BY c.doc_rowid, c.chunk_index",
                (to_json(list(chunks)),),
            ):
                values = np.frombuffer(vector, dtype=np.float32).tolist()
                chunks[doc_rowid].append(ChunkWrite(index=chunk_index, text=body, vector=values))
        return [
            DocumentWrite(
                doc_id=row[1],
                source_id=row[2],
                external_id=row[3],
                title=row[4],
                url=row[5],
                author=row[6],
                doc_type=row[7],
                content_type=row[8],
                created_at=datetime.fromisoformat(row[9]) if row[9] else None,
                updated_at=datetime.fromisoformat(row[10]),
                breadcrumbs=tuple(json.loads(row[11])),
                metadata=json.loads(row[12]),
                acl=frozenset(json.loads(row[13])),
                content_fingerprint=row[14],
                acl_fingerprint=row[15],
                fields_fingerprint=row[16],
                version=row[17],
                indexed_at=datetime.fromisoformat(row[18]),
                chunks=chunks[row[0]],
            )
            for row in rows
        ]

    def not_modified_since(self, source_id: str, cutoff: datetime) -> Iterator[AgedDocument]:
        after = ""
        while True:
            with self.db.read() as conn:
                rows = conn.execute(
                    "SELECT doc_id, external_id, updated_at FROM documents"
                    " WHERE source_id = ? AND updated_ts < ? AND doc_id > ?"
                    " ORDER BY doc_id LIMIT ?",
                    (source_id, timestamp(cutoff), after, _PAGE),
                ).fetchall()
            for doc_id, external_id, updated_at in rows:
                yield AgedDocument(
                    doc_id=doc_id,
                    external_id=external_id,
                    updated_at=datetime.fromisoformat(updated_at),
                )
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]
