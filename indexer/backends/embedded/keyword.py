"""The keyword leg's ranking: FTS5 BM25 top-k among permitted chunks, with early termination.

FTS5 evaluates ``bm25()`` on every row an OR of the query's terms matches. A SciFact claim holds
"of", "in", "the": its OR matches nine chunks in ten, and scoring those 90k rows was 95% of the
leg at 100k chunks (counting the same matches without ``bm25()`` takes a twentieth of the time).

``bm25()`` is a sum over the query's phrases, and each phrase's share is below
``idf * (k1 + 1)`` whatever the row (``f / (f + x) < 1`` for a positive ``x``). So, with the
terms split into rare ones ``R`` and common ones ``C`` whose shares add up to at most ``U``, a
chunk holding no term of ``R`` scores below ``U``. Once k permitted chunks holding a term of ``R``
score ``U`` or more, they are the top k (MaxScore). FTS5 still computes the scores: the rows
holding a rare term are ``(R) AND (C)`` plus ``(R) NOT (C)``, and in both every phrase of the
query is present once, so ``bm25()`` of either is the score of the plain OR — same scores, same
order (up to ties), over a fraction of the rows.

Terms in half the chunks or more get FTS5's floor idf (1e-6) and add at most ``FLOOR_SLACK``
(``(k1 + 1) * 1e-6``) to any score, yet ``bm25()`` walks every occurrence of them in every row
it scores: "the", "of", "in" made two thirds of the leg's time on long SciFact claims at 100k
chunks, and a short claim whose other terms are rare paid for the plain OR of 90k rows. So the
ranking runs on the other terms; a chunk then scores short of the plain OR by at most the floor
terms' slack added up (1.1e-5 for five), and only chunks that close can swap. The chunks holding
floor terms only score below that slack: once k permitted chunks score above it, none of them
can rank; else the plain OR of every term is the answer.

The threshold comes from the query itself: a first split takes the rarest terms (few rows); the
k-th permitted score its AND half finds is a lower bound of the final one and decides how many
common terms can be left out; if the first split already left them out it is the answer, else a
second split with the proven common set is (its k-th score can only be higher). Anything else —
one term, few matches, fewer than k permitted chunks holding a rare term — runs the plain OR.

The two halves of a split are two statements over disjoint rows: they run at once on two
connections (``Statements``; the pool and the snapshot checks are in ``spread``). Cutting one
statement into rowid ranges as well was tried and left out: each range pays the statement's
fixed cost (``bm25()`` computes every phrase's idf over its whole posting list), so two ranges
at once took 0.7-0.8 of the one statement's time, against about 0.55 for the two halves at once.

Highlights are not made here: the searcher asks for them for the final page only (``snippets``).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from indexer.backends.embedded.fts_query import fts_expression

_FIRST_FETCH_FACTOR = 4
# FTS5's bm25() constants (fts5_aux.c): k1, and the idf given to a term in half the rows or more.
_K1 = 1.2
_IDF_FLOOR = 1e-6
# The most a floor-idf term adds to any score.
FLOOR_SLACK = (_K1 + 1.0) * _IDF_FLOOR
# Below this many matching rows (summed over the terms) the plain OR is cheap enough; it is also
# the number of rows the first split aims at.
SPLIT_ROWS = 5000
# Scores are compared against a bound: a relative margin for the float sums' rounding.
_MARGIN = 1e-9
Rows = list[tuple[int, float]]
# Where a statement runs is the caller's choice: the statement takes the connection to run on.
Statement = Callable[[sqlite3.Connection], Rows]
Top = Callable[[Sequence[str]], Rows]


class Statements(Protocol):
    """Runs a query's ranking statements, each on a connection that sees the caller's state."""

    def run(self, statements: Sequence[Statement]) -> list[Rows]: ...


class OneConnection:
    """Every statement in turn on the caller's connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def run(self, statements: Sequence[Statement]) -> list[Rows]:
        return [statement(self._conn) for statement in statements]


@dataclass(frozen=True)
class Ranked:
    chunk_rowid: int
    rank: float  # FTS5's bm25(): lower is better


def rank_chunks(
    conn: sqlite3.Connection,
    terms: list[str],
    acl_clause: str,
    acl_params: list[Any],
    k: int,
    weights: tuple[float, float],
    counts: TermCounts,
    split_rows: int | None = None,
    statements: Statements | None = None,
) -> list[Ranked]:
    """The k best permitted chunks for ``terms``, best first (weights must be positive)."""

    runner = statements or OneConnection(conn)
    acl = (acl_clause, acl_params)

    def top(expressions: Sequence[str]) -> Rows:
        statement = partial(_first_pass, acl=acl, k=k, weights=weights)
        parts = runner.run([partial(statement, expression=e) for e in expressions])
        return sorted((row for part in parts for row in part), key=_rank_order)[:k]

    rows = SPLIT_ROWS if split_rows is None else split_rows
    ranked = _split_ranking(counts.of(conn, terms), k, rows, top)
    return [Ranked(rowid, rank) for rowid, rank in ranked]


def _rank_order(row: tuple[int, float]) -> tuple[float, int]:
    # Ties by rowid, as one statement orders them, so merged halves keep the plain OR's order.
    return row[1], row[0]


def _split_ranking(
    stats: tuple[int, dict[str, int]],
    k: int,
    split_rows: int,
    top: Top,
) -> list[tuple[int, float]]:
    rows, hits = stats
    # A term in no row adds nothing to any score.
    present = [term for term in hits if hits[term] > 0]
    bound = {term: (_K1 + 1.0) * _idf(rows, hits[term]) for term in present}
    scored = [term for term in present if bound[term] > FLOOR_SLACK]
    if not scored or len(scored) == len(present):
        return _bounded_ranking(present, hits, bound, k, split_rows, top)
    # Floor terms are not dropped from the query: whether a term is in half the rows depends on
    # documents the caller may not see, and chunks holding only such terms must still be found
    # when nothing better is (tests/retrieval/service/test_scores.py).
    ranked = _bounded_ranking(scored, hits, bound, k, split_rows, top)
    slack = FLOOR_SLACK * (len(present) - len(scored))
    if len(ranked) == k and -ranked[-1][1] > slack * (1.0 + _MARGIN) + _MARGIN:
        return ranked
    return top([fts_expression(present)])


def _bounded_ranking(
    present: list[str],
    hits: dict[str, int],
    bound: dict[str, float],
    k: int,
    split_rows: int,
    top: Top,
) -> list[tuple[int, float]]:
    """The top k over ``present`` (terms in some row), by the split where it pays."""
    if not present:
        return []
    if len(present) == 1 or sum(hits[term] for term in present) <= split_rows:
        return top([fts_expression(present)])
    by_bound = sorted(present, key=lambda term: (bound[term], term))

    # First split: the rarest terms, about split_rows rows, are R. The k-th permitted score of
    # its (R) AND (C) rows is an exact score of k chunks, so a lower bound of the final k-th
    # score; its (R) NOT (C) half is run only if this split turns out to be the answer.
    rare: list[str] = []
    seen = 0
    for term in reversed(by_bound):
        if rare and seen + hits[term] > split_rows:
            break
        rare.append(term)
        seen += hits[term]
    with_common, without_common = _split_expressions(present, set(rare))
    first = top([with_common])
    threshold = -first[-1][1] if len(first) == k else 0.0

    # Every common term whose bound still fits under that threshold can be left out.
    common: set[str] = set()
    total = 0.0
    for term in by_bound:
        total += bound[term]
        if total * (1.0 + _MARGIN) + _MARGIN >= threshold:
            break
        common.add(term)
    if not common:
        return top([fts_expression(present)])
    if common >= set(present) - set(rare):
        return sorted(first + top([without_common]), key=_rank_order)[:k]
    # R grows past the first split's (the proven common set is smaller), so its k-th score is
    # at least the first one: the bound holds without checking again.
    return top(_split_expressions(present, set(present) - common))


def _split_expressions(terms: list[str], rare: set[str]) -> list[str]:
    """Rows holding a term of ``rare``, with and without a common term: each phrase once."""
    r = fts_expression([term for term in terms if term in rare])
    c = fts_expression([term for term in terms if term not in rare])
    return [f"({r}) AND ({c})", f"({r}) NOT ({c})"]


def _idf(rows: int, hits: int) -> float:
    idf = math.log((rows - hits + 0.5) / (hits + 0.5))
    return idf if idf > 0.0 else _IDF_FLOOR


class TermCounts:
    """The rows each term matches, kept for one state of the full-text index.

    Counting walks a term's posting list (a few ms for "of" at 100k chunks); the same terms come
    back query after query. FTS5 rewrites its averages record (row and token counts) and its
    structure record (the segments) on every change, so the two blobs name the state exactly.
    """

    def __init__(self, limit: int = 50_000) -> None:
        self._limit = limit
        # (state, counts) as one reference: searches run on several threads, and a reader must
        # never add its state's counts to another state's table.
        self._entry: tuple[tuple[bytes, bytes], dict[str, int]] = ((b"", b""), {})

    def of(self, conn: sqlite3.Connection, terms: list[str]) -> tuple[int, dict[str, int]]:
        """FTS5's row count (what bm25() uses) and the rows each term (a phrase) matches."""
        averages, structure = conn.execute(
            "SELECT (SELECT block FROM chunk_text_data WHERE id = 1),"
            " (SELECT block FROM chunk_text_data WHERE id = 10)"
        ).fetchone()
        state = (bytes(averages or b""), bytes(structure or b""))
        entry = self._entry
        if entry[0] != state or len(entry[1]) > self._limit:
            entry = (state, {})
            self._entry = entry
        known = entry[1]
        for term in terms:
            if term not in known:
                known[term] = conn.execute(
                    "SELECT count(*) FROM chunk_text WHERE chunk_text MATCH ?",
                    (fts_expression([term]),),
                ).fetchone()[0]
        return _varint(state[0]), {term: known[term] for term in terms}


def _varint(blob: bytes) -> int:
    """SQLite's leading varint: nRow, the first field of FTS5's averages record."""
    value = 0
    for i, byte in enumerate(blob[:9]):
        if i == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return value


def _first_pass(
    conn: sqlite3.Connection,
    *,
    expression: str,
    acl: tuple[str, list[Any]],
    k: int,
    weights: tuple[float, float],
) -> Rows:
    """(rowid, bm25) of the k best permitted chunks ``expression`` matches, best first.

    bm25() is ranked over the FTS5 table alone and the ACL condition runs on the fetched rows
    only: joined into one statement, SQLite evaluated it for every match before sorting.
    """
    acl_clause, acl_params = acl
    sql = f"""
        WITH top AS (
            SELECT rowid AS id, bm25(chunk_text, {weights[0]}, {weights[1]}) AS r
            FROM chunk_text WHERE chunk_text MATCH ? ORDER BY r, id LIMIT ?
        )
        SELECT top.id, top.r, CASE WHEN {acl_clause} THEN 1 ELSE 0 END
        FROM top
        JOIN chunks c ON c.chunk_rowid = top.id
        JOIN documents d ON d.doc_rowid = c.doc_rowid
        ORDER BY top.r, top.id
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


def snippets(
    conn: sqlite3.Connection, terms: list[str], rowids: Sequence[int], snippet_args: str
) -> dict[int, tuple[str, str]]:
    """(body snippet, marked title) of each of ``rowids`` that ``terms`` match."""
    if not terms or not rowids:
        return {}
    # No bm25() here: FTS5 recomputes its statistics for each rowid of the IN list.
    return {
        row[0]: (row[1], row[2])
        for row in conn.execute(
            f"SELECT rowid, {snippet_args} FROM chunk_text"
            " WHERE chunk_text MATCH ? AND rowid IN (SELECT value FROM json_each(?))",
            (fts_expression(terms), "[" + ",".join(str(rowid) for rowid in rowids) + "]"),
        )
    }
