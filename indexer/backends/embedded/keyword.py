"""The keyword leg's ranking: FTS5 BM25 top-k among permitted chunks, in the old query's order.

One statement joining the FTS5 match to the ACL tables and computing ``snippet()`` on every
matching row cost a quarter of a second at 100k chunks: an OR over a SciFact claim matches nine
chunks in ten, and SQLite evaluated the ACL join and the snippets for every match before
sorting. Now the first pass ranks by the same ``bm25()`` over the FTS5 table alone, reads the
best ``fetch`` chunks only and runs the ACL condition on those rows; the second pass computes
snippets for the k chunks kept. Same scores, same order (up to ties), fewer rows touched.

If the fetched rows hold fewer than k permitted chunks and more matches exist, the fetch grows
by the permitted share seen so far.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from typing import Any

from indexer.backends.embedded.fts_query import fts_expression

_FIRST_FETCH_FACTOR = 4


@dataclass(frozen=True)
class Ranked:
    chunk_rowid: int
    rank: float  # FTS5's bm25(): lower is better
    snippet: str
    title: str


def rank_chunks(
    conn: sqlite3.Connection,
    terms: list[str],
    acl_clause: str,
    acl_params: list[Any],
    k: int,
    weights: tuple[float, float],
    snippet_args: str,
) -> list[Ranked]:
    """The k best permitted chunks for ``terms``, best first, with snippet and marked title."""
    expression = fts_expression(terms)
    chosen = _first_pass(conn, expression, acl_clause, acl_params, k, weights)
    if not chosen:
        return []
    # No bm25() here: FTS5 computes it slowly on a rowid-filtered scan; the first pass has it.
    marked = {
        row[0]: (row[1], row[2])
        for row in conn.execute(
            f"SELECT rowid, {snippet_args} FROM chunk_text"
            " WHERE chunk_text MATCH ? AND rowid IN (SELECT value FROM json_each(?))",
            (expression, "[" + ",".join(str(rowid) for rowid, _ in chosen) + "]"),
        )
    }
    return [Ranked(rowid, rank, *marked[rowid]) for rowid, rank in chosen if rowid in marked]


def _first_pass(
    conn: sqlite3.Connection,
    expression: str,
    acl_clause: str,
    acl_params: list[Any],
    k: int,
    weights: tuple[float, float],
) -> list[tuple[int, float]]:
    """(rowid, bm25) of the k best permitted chunks, best first."""
    sql = f"""
        WITH top AS (
            SELECT rowid AS id, bm25(chunk_text, {weights[0]}, {weights[1]}) AS r
            FROM chunk_text WHERE chunk_text MATCH ? ORDER BY r LIMIT ?
        )
        SELECT top.id, top.r, CASE WHEN {acl_clause} THEN 1 ELSE 0 END
        FROM top
        JOIN chunks c ON c.chunk_rowid = top.id
        JOIN documents d ON d.doc_rowid = c.doc_rowid
        ORDER BY top.r
    """
    fetch = _FIRST_FETCH_FACTOR * k
    while True:
        rows = conn.execute(sql, (expression, fetch, *acl_params)).fetchall()
        permitted = [(row[0], float(row[1])) for row in rows if row[2]]
        # Unread rows rank after every row read: k permitted among those read are the top k.
        if len(permitted) >= k or len(rows) < fetch:
            return permitted[:k]
        share = max(len(permitted), 1) / max(len(rows), 1)
        fetch = max(4 * fetch, math.ceil(2 * k / share))
