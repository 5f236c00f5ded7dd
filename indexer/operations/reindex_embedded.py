"""Re-indexing the embedded file: a new file beside it, written to by the copy and by every
writer, then put in the old one's place.

The new file is written through a fresh ``EmbeddedIndex`` (the current schema, the new
dimension) while the old file serves; the marker naming it is in the old file's ``meta`` table,
so writers in every process (``indexer.dual_write``) write to both files. The last pass runs
with every lease held and inside a write transaction on the old file, so no other process can
commit meanwhile; the same transaction copies the sync state (checkpoints, runs, directory,
controls, the access explainer's records; never the marker) and arms triggers that fail any
write to the old contents. The new file's pages then replace the old file's in one SQLite
backup step, under the same path: every process keeps its path, sees the new contents (without
the marker) on its next transaction, and a write that raced the swap failed loudly (the run
stops without advancing its checkpoint, and the next run writes it again) instead of being
lost. A re-index killed before the swap leaves the old file serving, the marker set and the new
file in place: ``--resume`` carries on from what the new file holds, ``--abort`` removes it.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from indexer.backend import SCHEMA_VERSION
from indexer.backends import Stores
from indexer.backends.embedded import open_embedded
from indexer.backends.embedded.database import Database
from indexer.backends.embedded.index import EmbeddedIndex
from indexer.dual_write import forget_target_embedder, register_target_embedder
from indexer.embedding import Embedder, make_embedder
from indexer.operations.reads import reader_for
from indexer.operations.reindex import (
    DEFAULT_WAIT,
    Copier,
    ReindexError,
    ReindexInProgressError,
    ReindexReport,
    hold_all,
    new_owner,
    resumed,
    utc_now,
    wait_for_runs,
    writer_keys,
)
from indexer.operations.reindex_marker import MARKER_KEY, ReindexMarker, marker_store_for
from indexer.settings import EmbeddedSettings, EmbeddingSettings

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
    embedding: EmbeddingSettings | None = None,
    resume: bool = False,
    clock: Callable[[], datetime] = utc_now,
    lease_ttl: timedelta = timedelta(minutes=5),
    wait: timedelta = DEFAULT_WAIT,
    by: str = "operator",
) -> ReindexReport:
    """Re-index into a new file and swap. ``embedding`` (or ``embedder``) re-embeds with a new
    model; ``resume`` carries on with the re-index in progress instead of starting one."""
    index = stores.index
    if not isinstance(index, EmbeddedIndex):
        raise TypeError("reindex_embedded needs the embedded backend")
    old_db = index.db
    path = old_db.path
    markers = marker_store_for(stores.state)
    marker = markers.get()
    owner = new_owner()
    waited = 0.0
    if embedder is None and embedding is not None:
        embedder = make_embedder(embedding)
    if resume:
        marker, embedder = resumed(marker, embedder)
        target = Path(marker.target)
        if not target.exists():
            raise ReindexError(f"the new file {target} is gone: `permindex reindex --abort`")
        with old_db.write() as conn:
            _disarm(conn)  # a re-index killed in its swap
        new_stores = open_embedded(EmbeddedSettings(path=target), marker.dimension)
    else:
        if marker is not None:
            raise ReindexInProgressError(marker)
        target = work_path or path.with_name(path.name + ".reindex")
        with old_db.write() as conn:
            _disarm(conn)
        _remove(target)
        dimension = embedder.dimension if embedder is not None else index.dimension
        new_stores = open_embedded(EmbeddedSettings(path=target), dimension)
        marker = ReindexMarker(
            reindex_id=uuid.uuid4().hex,
            backend="embedded",
            target=str(target),
            dimension=dimension,
            reembed=embedder is not None,
            embedding=embedding,
            schema_version=SCHEMA_VERSION,
            mapping=f"embedded schema {SCHEMA_VERSION}, {dimension}-d vectors",
            started_at=clock(),
            by=by,
        )
        if embedder is not None:
            register_target_embedder(marker.reindex_id, embedder)
        markers.put(marker)
        keys = writer_keys(stores)
        try:
            waited += wait_for_runs(
                stores.state, keys, owner=owner, ttl=lease_ttl, clock=clock, wait=wait
            )
        except BaseException:
            markers.clear()
            new_stores.close()
            _remove(target)
            forget_target_embedder(marker.reindex_id)
            raise
    new_index = new_stores.index
    assert isinstance(new_index, EmbeddedIndex)
    try:
        markers.put(marker.model_copy(update={"phase": "copying"}))
        copier = Copier(index, new_index, reader_for(index), embedder, on_page)
        copier.copy()
        keys = writer_keys(stores)
        started = time.monotonic()
        with hold_all(stores.state, keys, owner=owner, ttl=lease_ttl, clock=clock, wait=wait):
            waited += time.monotonic() - started
            markers.put(marker.model_copy(update={"phase": "swapping"}))
            with old_db.write() as conn:
                # The write lock keeps every writer out, lease or not, until the backup.
                copier.verify()
                _copy_state(conn, new_index.db)
                _arm(conn)
            # Outside any transaction of the old file, as the backup API requires.
            new_conn = new_index.db.connection()
            new_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            new_conn.backup(old_db.connection())
        report = copier.report(str(path), str(path), waited)
    finally:
        new_stores.close()
    _remove(target)
    forget_target_embedder(marker.reindex_id)
    return report


def abort_embedded(stores: Stores, marker: ReindexMarker) -> None:
    """Under every lease: clear the marker (with the swap's triggers, if armed), drop the file."""
    index = stores.index
    if not isinstance(index, EmbeddedIndex):
        raise TypeError("abort_embedded needs the embedded backend")
    with index.db.write() as conn:
        _disarm(conn)
        conn.execute("DELETE FROM meta WHERE key = ?", (MARKER_KEY,))
    _remove(Path(marker.target))


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
                "SELECT key, value FROM meta WHERE key NOT IN ('dimension', 'write_generation', ?)",
                (MARKER_KEY,),
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
