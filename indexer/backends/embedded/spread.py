"""The keyword leg's ranking statements spread over threads, each answering for one index state.

SQLite releases the GIL while a statement runs and ``bm25()`` is C, so the statements of one
ranking step (the two halves of a split) run at once on the caller's connection and the
pool's. Each helper reads in its own snapshot: one whose search stamp differs from the
caller's (a write committed in between, or the caller's own transaction holds writes) is run
again on the caller's connection, so the ranking never mixes two states. A statement no pool
thread has picked up by the time the caller is done with its own is run by the caller: under
concurrent queries the pool is busy, and waiting for it would only queue.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait

from indexer.backends.embedded.database import Database
from indexer.backends.embedded.keyword import Rows, Statement
from indexer.backends.embedded.rows import read_search_stamp


class SpreadStatements:
    def __init__(self, db: Database, pool: ThreadPoolExecutor, conn: sqlite3.Connection) -> None:
        self._db = db
        self._pool = pool
        self._conn = conn
        self._stamp: int | None = None

    def run(self, statements: Sequence[Statement]) -> list[Rows]:
        if len(statements) < 2:
            return [statement(self._conn) for statement in statements]
        if self._stamp is None:
            self._stamp = read_search_stamp(self._conn)
        helpers: list[Future[tuple[int, Rows]]] = [
            self._pool.submit(self._in_own_snapshot, statement) for statement in statements[1:]
        ]
        try:
            answers = [statements[0](self._conn)]
            for statement, helper in zip(statements[1:], helpers, strict=True):
                if helper.cancel():
                    answers.append(statement(self._conn))
                    continue
                stamp, rows = helper.result()
                answers.append(rows if stamp == self._stamp else statement(self._conn))
        except BaseException:
            for helper in helpers:
                helper.cancel()
            wait(helpers)  # their reads end before the caller may close the index
            raise
        return answers

    def _in_own_snapshot(self, statement: Statement) -> tuple[int, Rows]:
        with self._db.read() as conn:
            return read_search_stamp(conn), statement(conn)
