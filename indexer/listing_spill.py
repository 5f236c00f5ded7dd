"""The ids a listing names, spilled to a temporary file instead of held in memory.

Pruning needs "is this indexed id still listed?" for every indexed document. Held as a Python
set, millions of ids cost hundreds of megabytes; a temporary SQLite table costs a few pages of
cache and answers in batches.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

_INSERT_BATCH = 2000


class SpilledIds:
    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="permindex-listing-")
        self._conn = sqlite3.connect(Path(self._dir.name) / "ids.sqlite")
        self._conn.execute("PRAGMA journal_mode = OFF")
        self._conn.execute("PRAGMA synchronous = OFF")
        self._conn.execute("CREATE TABLE ids (id TEXT PRIMARY KEY) WITHOUT ROWID")
        self._pending: list[tuple[str]] = []
        self.count = 0

    def add(self, external_id: str) -> None:
        self._pending.append((external_id,))
        if len(self._pending) >= _INSERT_BATCH:
            self._flush()

    def present(self, external_ids: Sequence[str]) -> set[str]:
        """Those of ``external_ids`` that were added."""
        self._flush()
        rows = self._conn.execute(
            "SELECT id FROM ids WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(external_ids)),),
        )
        return {row[0] for row in rows}

    def _flush(self) -> None:
        if self._pending:
            before = self._conn.total_changes
            self._conn.executemany("INSERT OR IGNORE INTO ids (id) VALUES (?)", self._pending)
            self.count += self._conn.total_changes - before
            self._pending = []

    def close(self) -> None:
        self._conn.close()
        self._dir.cleanup()

    def __enter__(self) -> SpilledIds:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
