"""The embedded file's versioned schema: index, vectors, sync state and directory in one file.

``MIGRATIONS[n]`` upgrades a file from version ``n`` to ``n + 1``; a new file runs them all. Each
upgrade runs in one ``BEGIN IMMEDIATE`` transaction, so concurrent openers serialise and the
second one finds the work done.

Chunk text lives only in the FTS5 table (``chunk_text``, whose rowid is the chunk's rowid): it is
the single copy, read back for hits and used by ``snippet()`` for highlights.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from indexer.backend import SCHEMA_VERSION
from indexer.backends.embedded.database import table_exists
from indexer.records import metadata_pairs

_V1 = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    doc_rowid INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    source_id TEXT NOT NULL,
    external_id TEXT NOT NULL,
    title TEXT NOT NULL,
    url TEXT,
    author TEXT,
    doc_type TEXT NOT NULL,
    content_type TEXT NOT NULL,
    created_at TEXT,
    updated_at TEXT NOT NULL,
    updated_ts REAL NOT NULL,
    breadcrumbs TEXT NOT NULL,
    metadata TEXT NOT NULL,
    acl TEXT NOT NULL,
    content_fingerprint TEXT NOT NULL,
    acl_fingerprint TEXT NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_by_source ON documents (source_id, doc_id);
CREATE TABLE IF NOT EXISTS doc_principals (
    principal TEXT NOT NULL,
    doc_rowid INTEGER NOT NULL REFERENCES documents (doc_rowid) ON DELETE CASCADE,
    PRIMARY KEY (principal, doc_rowid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_principals_by_doc ON doc_principals (doc_rowid);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_rowid INTEGER PRIMARY KEY,
    doc_rowid INTEGER NOT NULL REFERENCES documents (doc_rowid) ON DELETE CASCADE,
    chunk_index INTEGER NOT NULL,
    vector BLOB NOT NULL,
    UNIQUE (doc_rowid, chunk_index)
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_text USING fts5 (
    title, body, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS leases (
    source_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    token TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    expires_ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    source_id TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    started_ts REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_source ON runs (source_id, started_ts);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_ts);
CREATE TABLE IF NOT EXISTS group_members (
    source_id TEXT NOT NULL,
    group_name TEXT NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (source_id, group_name, member)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS group_members_by_member ON group_members (member);
CREATE INDEX IF NOT EXISTS group_members_by_group ON group_members (group_name);
CREATE TABLE IF NOT EXISTS identities (
    source_id TEXT NOT NULL,
    account TEXT NOT NULL,
    email TEXT NOT NULL,
    PRIMARY KEY (source_id, account)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identities_by_email ON identities (email);
"""

_V2 = """
ALTER TABLE documents ADD COLUMN source_version TEXT;
"""

# The metadata filter's side table, one row per (key, value) a document matches (see
# indexer.records.metadata_pairs), read by its (key, value) prefix from inside each search like
# doc_principals; the JSON in documents.metadata stays the copy hits return.
_V3 = """
ALTER TABLE documents ADD COLUMN fields_fingerprint TEXT NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS doc_metadata (
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    doc_rowid INTEGER NOT NULL REFERENCES documents (doc_rowid) ON DELETE CASCADE,
    PRIMARY KEY (key, value, doc_rowid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_metadata_by_doc ON doc_metadata (doc_rowid);
"""


def _to_v3(conn: sqlite3.Connection) -> None:
    for statement in _statements(_V3):
        conn.execute(statement)
    # Documents already in the file become filterable at once, not only after their next sync;
    # the pairs are computed in Python so they follow exactly the rule new writes use.
    rows = conn.execute("SELECT doc_rowid, metadata FROM documents").fetchall()
    conn.executemany(
        "INSERT OR IGNORE INTO doc_metadata (key, value, doc_rowid) VALUES (?, ?, ?)",
        [
            (key, value, doc_rowid)
            for doc_rowid, metadata in rows
            for key, value in metadata_pairs(json.loads(metadata))
        ],
    )


# A migration is a script, or a function for the steps SQL alone cannot express.
Migration = str | Callable[[sqlite3.Connection], None]
MIGRATIONS: dict[int, Migration] = {0: _V1, 1: _V2, 2: _to_v3}


class SchemaError(Exception):
    """The file was written by a newer permindex, or for another embedding dimension."""


def current_version(conn: sqlite3.Connection) -> int:
    if not table_exists(conn, "schema_version"):
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return 0 if row is None else int(row[0])


def is_current(conn: sqlite3.Connection, dimension: int) -> bool:
    """Whether the file is at ``SCHEMA_VERSION`` for ``dimension``, so ``upgrade`` has nothing to
    write (any other case, a wrong dimension included, is left to ``upgrade`` to fix or refuse)."""
    if current_version(conn) != SCHEMA_VERSION:
        return False
    rows = dict(
        conn.execute("SELECT key, value FROM meta WHERE key IN ('dimension', 'write_generation')")
    )
    return rows.get("dimension") == str(dimension) and "write_generation" in rows


def upgrade(conn: sqlite3.Connection, dimension: int) -> None:
    """Bring the schema to ``SCHEMA_VERSION`` inside the caller's write transaction."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    version = current_version(conn)
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"index schema version {version} is newer than this permindex ({SCHEMA_VERSION})"
        )
    while version < SCHEMA_VERSION:
        migration = MIGRATIONS[version]
        if isinstance(migration, str):
            for statement in _statements(migration):
                conn.execute(statement)
        else:
            migration(conn)
        version += 1
    conn.execute("DELETE FROM schema_version")
    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    stored = conn.execute("SELECT value FROM meta WHERE key = 'dimension'").fetchone()
    if stored is None:
        conn.execute("INSERT INTO meta (key, value) VALUES ('dimension', ?)", (str(dimension),))
    elif int(stored[0]) != dimension:
        raise SchemaError(
            f"index was built for {stored[0]}-dimensional vectors, the model gives {dimension}: "
            "rebuild the index or use the model it was built with"
        )
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('write_generation', '0')")


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
