"""The one SQLite file behind the embedded stores: per-thread connections and explicit transactions.

Every connection runs in autocommit mode so transactions are exactly the ``BEGIN``s written here:
writes take ``BEGIN IMMEDIATE`` (the write lock up front, so two processes never deadlock on a
lock upgrade) and commit with ``synchronous=FULL`` (durable when the call returns); reads take a
deferred transaction, which in WAL mode is a consistent snapshot that never blocks the writer.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.backend import IndexUnavailableError

BUSY_TIMEOUT_MS = 30_000


class Database:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise IndexUnavailableError(f"embedded index {self.path} is closed")
        conn = self._open()
        self._local.conn = conn
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False only so close() can close every thread's connection;
            # each connection is otherwise used by the thread that opened it.
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except (sqlite3.Error, OSError) as exc:
            raise IndexUnavailableError(f"cannot open embedded index {self.path}: {exc}") from exc
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the database's write lock from its first statement."""
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise IndexUnavailableError(f"embedded index {self.path} is locked: {exc}") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise IndexUnavailableError(f"commit to {self.path} failed: {exc}") from exc

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read snapshot: every statement inside sees the same committed state."""
        conn = self.connection()
        if conn.in_transaction:  # nested in a caller's transaction: reuse its snapshot
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        self._closed = True
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
