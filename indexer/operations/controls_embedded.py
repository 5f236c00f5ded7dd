"""Source controls in the embedded file: one JSON row per source in the ``meta`` table.

The ``meta`` table exists in every schema version, so controls need no migration.
"""

from __future__ import annotations

from indexer.backends.embedded.database import Database
from indexer.operations.controls import SourceControl

_PREFIX = "source_control:"


class EmbeddedControlStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, source_id: str) -> SourceControl | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT value FROM meta WHERE key = ?", (_PREFIX + source_id,)
            ).fetchone()
        return None if row is None else SourceControl.model_validate_json(row[0])

    def put(self, control: SourceControl) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_PREFIX + control.source_id, control.model_dump_json()),
            )

    def all(self) -> list[SourceControl]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT value FROM meta WHERE key LIKE ? ORDER BY key", (_PREFIX + "%",)
            ).fetchall()
        return [SourceControl.model_validate_json(row[0]) for row in rows]
