"""ACL provenance records in the embedded file, in a table of their own beside the index's."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from indexer.backends.embedded.database import Database, table_exists
from indexer.backends.embedded.rows import to_json
from indexer.provenance import AclProvenance, IndexedAcl

_SCHEMA = """
CREATE TABLE IF NOT EXISTS acl_provenance (
    doc_id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS acl_provenance_by_source ON acl_provenance (source_id);
"""


class EmbeddedProvenanceStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._ready = False

    def _exists(self) -> bool:
        # Reads never create the table: a file opened read-only must still answer.
        if not self._ready:
            with self.db.read() as conn:
                self._ready = table_exists(conn, "acl_provenance")
        return self._ready

    def _ensure(self) -> None:
        if not self._exists():
            with self.db.write() as conn:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
            self._ready = True

    def put(self, records: Sequence[AclProvenance]) -> None:
        if not records:
            return
        self._ensure()
        with self.db.write() as conn:
            conn.executemany(
                "INSERT INTO acl_provenance (doc_id, source_id, fingerprint, record)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (doc_id) DO UPDATE SET"
                " source_id = excluded.source_id, fingerprint = excluded.fingerprint,"
                " record = excluded.record",
                [(r.doc_id, r.source_id, r.fingerprint, r.model_dump_json()) for r in records],
            )

    def get(self, doc_id: str) -> AclProvenance | None:
        if not self._exists():
            return None
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT record FROM acl_provenance WHERE doc_id = ?", (doc_id,)
            ).fetchone()
        return AclProvenance.model_validate_json(row[0]) if row else None

    def fingerprints_of(self, doc_ids: Sequence[str]) -> dict[str, str]:
        if not doc_ids or not self._exists():
            return {}
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT doc_id, fingerprint FROM acl_provenance"
                " WHERE doc_id IN (SELECT value FROM json_each(?))",
                (to_json(list(doc_ids)),),
            ).fetchall()
        return {row[0]: row[1] for row in rows}

    def delete(self, doc_ids: Sequence[str]) -> None:
        if not doc_ids or not self._exists():
            return
        with self.db.write() as conn:
            conn.execute(
                "DELETE FROM acl_provenance WHERE doc_id IN (SELECT value FROM json_each(?))",
                (to_json(list(doc_ids)),),
            )

    def delete_source(self, source_id: str) -> None:
        if not self._exists():
            return
        with self.db.write() as conn:
            conn.execute("DELETE FROM acl_provenance WHERE source_id = ?", (source_id,))

    def indexed_acl(self, doc_id: str) -> IndexedAcl | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT doc_id, source_id, title, acl, acl_fingerprint, indexed_at"
                " FROM documents WHERE doc_id = ?",
                (doc_id,),
            ).fetchone()
        if row is None:
            return None
        return IndexedAcl(
            doc_id=row[0],
            source_id=row[1],
            title=row[2],
            acl=frozenset(json.loads(row[3])),
            acl_fingerprint=row[4],
            indexed_at=datetime.fromisoformat(row[5]),
        )
