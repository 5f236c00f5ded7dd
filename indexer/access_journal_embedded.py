"""The access journal in the embedded file: a table of its own beside the index's tables."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter

from indexer.access_journal import DEFAULT_KEEP, JournalEntry, PruneClock, subject_of
from indexer.backends.embedded.database import Database, table_exists
from indexer.backends.embedded.rows import to_json

_SCHEMA = """
CREATE TABLE IF NOT EXISTS access_journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id TEXT NOT NULL UNIQUE,
    at_ts REAL NOT NULL,
    kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS access_journal_by_time ON access_journal (at_ts);
CREATE TABLE IF NOT EXISTS access_journal_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
"""
_ENTRY: TypeAdapter[JournalEntry] = TypeAdapter(JournalEntry)


def _ts(value: datetime) -> float:
    # Naive times are the runs' UTC (as the index's own timestamps).
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _empty(conn: sqlite3.Connection) -> bool:
    documents = conn.execute("SELECT 1 FROM documents LIMIT 1").fetchone()
    members = conn.execute("SELECT 1 FROM group_members LIMIT 1").fetchone()
    return documents is None and members is None


class EmbeddedAccessJournal:
    def __init__(self, db: Database, *, keep: timedelta = DEFAULT_KEEP) -> None:
        self.db = db
        self.keep = keep
        self._ready = False
        self._prune = PruneClock()

    def _exists(self) -> bool:
        # Reads never create the table: a file opened read-only must still answer.
        if not self._ready:
            with self.db.read() as conn:
                self._ready = table_exists(conn, "access_journal")
        return self._ready

    def _ensure(self) -> None:
        if not self._exists():
            with self.db.write() as conn:
                created = not table_exists(conn, "access_journal")
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
                if created and _empty(conn):
                    # Nothing was indexed or synced before the journal: it knows every change.
                    conn.execute(
                        "INSERT OR IGNORE INTO access_journal_meta (key, value)"
                        " VALUES ('covers_from', '0')"
                    )
            self._ready = True

    def record(self, entries: Sequence[JournalEntry]) -> None:
        if not entries:
            return
        self._ensure()
        horizon = self._prune.due(entries)
        # Without its own fsync: the entries go to the write-ahead log ahead of the index write
        # they describe, which commits with synchronous=FULL and so makes both durable. The log
        # recovers a prefix of its commits, so an index write never survives without its entries.
        own = self.db.connection()
        if own.in_transaction:  # the level cannot change inside a transaction: keep FULL
            self._insert(entries, horizon)
            return
        own.execute("PRAGMA synchronous = NORMAL")
        try:
            self._insert(entries, horizon)
        finally:
            own.execute("PRAGMA synchronous = FULL")

    def _insert(self, entries: Sequence[JournalEntry], horizon: datetime | None) -> None:
        with self.db.write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO access_journal"
                " (entry_id, at_ts, kind, source_id, subject, entry) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.entry_id,
                        _ts(e.at),
                        e.kind,
                        e.source_id,
                        subject_of(e),
                        e.model_dump_json(exclude={"seq"}),
                    )
                    for e in entries
                ],
            )
            first = min(_ts(e.at) for e in entries)
            conn.execute(
                "INSERT OR IGNORE INTO access_journal_meta (key, value) VALUES ('covers_from', ?)",
                (str(first),),
            )
            if horizon is not None:
                self._drop(conn, _ts(horizon - self.keep))

    def _drop(self, conn: sqlite3.Connection, before_ts: float) -> int:
        dropped = conn.execute("DELETE FROM access_journal WHERE at_ts < ?", (before_ts,)).rowcount
        conn.execute(
            "UPDATE access_journal_meta SET value = ? WHERE key = 'covers_from'"
            " AND CAST(value AS REAL) < ?",
            (str(before_ts), before_ts),
        )
        return int(dropped)

    def prune(self, before: datetime) -> int:
        if not self._exists():
            return 0
        with self.db.write() as conn:
            return self._drop(conn, _ts(before))

    def discard(self, entry_ids: Sequence[str]) -> None:
        if not entry_ids or not self._exists():
            return
        with self.db.write() as conn:
            conn.execute(
                "DELETE FROM access_journal WHERE entry_id IN (SELECT value FROM json_each(?))",
                (to_json(list(entry_ids)),),
            )

    def changes_since(self, since: datetime) -> Iterator[JournalEntry]:
        if not self._exists():
            return
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT seq, entry FROM access_journal WHERE at_ts >= ? ORDER BY seq",
                (_ts(since),),
            ).fetchall()
        for seq, entry in rows:
            yield _ENTRY.validate_json(entry).model_copy(update={"seq": seq})

    def covers_from(self) -> datetime | None:
        if not self._exists():
            return None
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT value FROM access_journal_meta WHERE key = 'covers_from'"
            ).fetchone()
        return datetime.fromtimestamp(float(row[0]), UTC) if row else None

    # -- what the index and directory hold now -----------------------------------------

    def acls_of(self, doc_ids: Sequence[str]) -> dict[str, frozenset[str]]:
        if not doc_ids:
            return {}
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT doc_id, acl FROM documents"
                " WHERE doc_id IN (SELECT value FROM json_each(?))",
                (to_json(list(doc_ids)),),
            ).fetchall()
        return {row[0]: frozenset(json.loads(row[1])) for row in rows}

    def memberships_of(self, source_id: str) -> dict[str, frozenset[str]]:
        groups: dict[str, set[str]] = {}
        with self.db.read() as conn:
            for group, member in conn.execute(
                "SELECT group_name, member FROM group_members WHERE source_id = ?", (source_id,)
            ):
                groups.setdefault(group, set()).add(member)
        return {group: frozenset(members) for group, members in groups.items()}

    def docs_admitting(self, principals: Iterable[str]) -> Iterator[tuple[str, frozenset[str]]]:
        wanted = sorted(set(principals))
        if not wanted:
            return
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT doc_id, acl FROM documents WHERE doc_rowid IN ("
                " SELECT doc_rowid FROM doc_principals"
                " WHERE principal IN (SELECT value FROM json_each(?)))"
                " ORDER BY doc_id",
                (to_json(wanted),),
            ).fetchall()
        for doc_id, acl in rows:
            yield doc_id, frozenset(json.loads(acl))
