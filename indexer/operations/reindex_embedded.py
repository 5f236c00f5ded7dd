"""Re-indexing the embedded file: build a new file beside it, then put it in the old one's place.

The new file is written through a fresh ``EmbeddedIndex`` (the current schema, the new
dimension) while the old file serves. The last catch-up pass runs inside a write transaction
on the old file, so no other process can commit meanwhile; the same transaction copies the
sync state (checkpoints, runs, directory, controls, the access explainer's records) and arms
triggers that fail any write to the old contents. The new file's pages then replace the old
file's in one SQLite backup step, under the same path: every process keeps its path, sees the
new contents on its next transaction, and a write that raced the swap failed loudly (the run
stops without advancing its checkpoint, and the next run writes it again) instead of being
lost. A re-index killed before the swap leaves the old file as it was, triggers removed by the
next re-index.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from indexer.backends import Stores
from indexer.backends.embedded import open_embedded
from indexer.backends.embedded.database import Database
from indexer.backends.embedded.index import EmbeddedIndex
from indexer.embedding import Embedder
from indexer.operations.reads import reader_for
from indexer.operations.reindex import Copier, ReindexReport
from indexer.settings import EmbeddedSettings

# Tables the new file builds itself from the copied documents (or must not inherit).
_INDEX_TABLES = {
    "documents",
    "doc_principals",
    "chunks",
    "doc_metadata",
    "schema_version",
    "leases",
}
_GUARDED = ("documents", "checkpoints", "group_members", "identities")
_TRIGGER = "permindex_swapping_{table}_{op}"


def reindex_embedded(
    stores: Stores,
    *,
    embedder: Embedder | None = None,
    work_path: Path | None = None,
    on_page: Callable[[int], None] | None = None,
) -> ReindexReport:
    index = stores.index
    if not isinstance(index, EmbeddedIndex):
        raise TypeError("reindex_embedded needs the embedded backend")
    old_db = index.db
    path = old_db.path
    target = work_path or path.with_name(path.name + ".reindex")
    with old_db.write() as conn:
        _disarm(conn)  # left by a re-index killed before its swap
    _remove(target)
    dimension = embedder.dimension if embedder is not None else index.dimension
    new_stores = open_embedded(EmbeddedSettings(path=target), dimension)
    new_index = new_stores.index
    assert isinstance(new_index, EmbeddedIndex)
    try:
        copier = Copier(index, new_index, reader_for(index), embedder, on_page)
        copier.first_pass()
        copier.converge()
        with old_db.write() as conn:
            copier.catch_up()
            _copy_state(conn, new_index.db)
            _arm(conn)
        # Outside any transaction of the old file, as the backup API requires.
        new_conn = new_index.db.connection()
        new_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        new_conn.backup(old_db.connection())
    finally:
        new_stores.close()
    _remove(target)
    return copier.report(str(path), str(path))


def _copy_state(old: sqlite3.Connection, new_db: Database) -> None:
    tables = old.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL"
    ).fetchall()
    (generation,) = old.execute(
        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'write_generation'"
    ).fetchone() or (0,)
    with new_db.write() as new:
        present = {row[0] for row in new.execute("SELECT name FROM sqlite_master")}
        copied: set[str] = set()
        for name, sql in tables:
            if (
                name in _INDEX_TABLES
                or name.startswith(("chunk_text", "sqlite_"))
                or name == "meta"
            ):
                continue
            copied.add(name)
            if name not in present:
                new.execute(sql)
            rows = old.execute(f'SELECT * FROM "{name}"').fetchall()
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                new.execute(f'DELETE FROM "{name}"')
                new.executemany(f'INSERT INTO "{name}" VALUES ({marks})', rows)
        for name, table, sql in old.execute(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql NOT NULL"
        ).fetchall():
            if table in copied and name not in present:
                new.execute(sql)
        # Controls and other settings; never the dimension or the schema's own bookkeeping.
        new.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            old.execute(
                "SELECT key, value FROM meta WHERE key NOT IN ('dimension', 'write_generation')"
            ).fetchall(),
        )
        # Above every generation another process may have cached: their vector matrices reload.
        new.execute(
            "UPDATE meta SET value = ? WHERE key = 'write_generation'", (str(generation + 1),)
        )


def _arm(conn: sqlite3.Connection) -> None:
    for table in _GUARDED:
        for op in ("INSERT", "UPDATE", "DELETE"):
            # An unknown function: the write fails as an OperationalError, which the stores
            # report as the index being unavailable (a systemic failure, retried later).
            conn.execute(
                f"CREATE TRIGGER IF NOT EXISTS {_TRIGGER.format(table=table, op=op.lower())}"
                f" BEFORE {op} ON {table} BEGIN SELECT permindex_index_is_being_swapped(); END"
            )


def _disarm(conn: sqlite3.Connection) -> None:
    for table in _GUARDED:
        for op in ("insert", "update", "delete"):
            conn.execute(f"DROP TRIGGER IF EXISTS {_TRIGGER.format(table=table, op=op)}")


def _remove(target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        candidate = Path(f"{target}{suffix}")
        if candidate.exists():
            os.remove(candidate)
