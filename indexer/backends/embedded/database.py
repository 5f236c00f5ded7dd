"""The one SQLite file behind the embedded stores: per-thread connections and explicit transactions.

Every connection runs in autocommit mode so transactions are exactly the ``BEGIN``s written here:
writes take ``BEGIN IMMEDIATE`` (the write lock up front, so two processes never deadlock on a
lock upgrade) and commit with ``synchronous=FULL`` (durable when the call returns); reads take a
deferred transaction, which in WAL mode is a consistent snapshot that never blocks the writer.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.backend import IndexUnavailableError

BUSY_TIMEOUT_MS = 30_000
# How long close() waits for statements still running in other threads (a search the HTTP
# service gave up on keeps running in its worker) before it gives up closing their connections.
CLOSE_WAIT_S = 30.0


class Database:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        # Transactions in flight, so close() never closes a connection under a running statement
        # (closing a SQLite connection another thread is using crashes the process).
        self._active = 0
        self._idle = threading.Condition()

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
            if self.path.exists() and _read_only_file_system(self.path):
                return self._open_immutable()
            raise IndexUnavailableError(f"cannot open embedded index {self.path}: {exc}") from exc
        return conn

    def _open_immutable(self) -> sqlite3.Connection:
        # WAL mode needs a writable -shm file, which a read-only file system cannot have. Nothing
        # can change the file there, so it is opened immutable: searches answer from the index
        # as it was, and every write fails with "attempt to write a readonly database".
        uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise IndexUnavailableError(f"cannot open embedded index {self.path}: {exc}") from exc
        return conn

    @contextmanager
    def _in_use(self) -> Iterator[None]:
        with self._idle:
            if self._closed:
                raise IndexUnavailableError(f"embedded index {self.path} is closed")
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the database's write lock from its first statement."""
        with self._in_use():
            yield from self._write()

    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise IndexUnavailableError(f"embedded index {self.path} is locked: {exc}") from exc
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            # The file refused the write (read-only, full, I/O error): the index is unavailable,
            # whichever store was writing.
            conn.execute("ROLLBACK")
            raise IndexUnavailableError(f"write to {self.path} failed: {exc}") from exc
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
        with self._in_use():
            conn = self.connection()
            if conn.in_transaction:  # nested in a caller's transaction: reuse its snapshot
                yield conn
                return
            yield from self._read(conn)

    def _read(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._idle:
            self._closed = True
            if not self._idle.wait_for(lambda: self._active == 0, timeout=CLOSE_WAIT_S):
                # Leaking the connections beats crashing the process under a running statement.
                return
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def _read_only_file_system(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
