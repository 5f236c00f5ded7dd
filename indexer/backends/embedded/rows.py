"""Mapping between index records and SQLite rows, and the SQL of the ACL and search filters."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from indexer.records import Hit, SearchFilters

# Columns every hit query selects, in this order (see ``hit_from_row``); ``t`` is chunk_text.
HIT_COLUMNS = """
    c.chunk_index, t.body, d.doc_id, d.source_id, d.external_id, d.title, d.url, d.author,
    d.doc_type, d.content_type, d.updated_at, d.breadcrumbs, d.acl, d.created_at, d.metadata
"""


def timestamp(value: datetime) -> float:
    # Naive filter bounds are read as UTC; stored documents are always timezone-aware.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def permitted_documents_clause(
    principals: frozenset[str], filters: SearchFilters
) -> tuple[str, list[Any]]:
    """A WHERE condition on ``documents d`` that admits only documents the caller may see.

    The ACL is a join on the principal table: a document with no principal rows (empty ACL)
    can never satisfy it, whatever the caller holds.
    """
    conditions, params = _filter_conditions(filters)
    conditions.insert(
        0,
        "EXISTS (SELECT 1 FROM doc_principals p WHERE p.doc_rowid = d.doc_rowid"
        " AND p.principal IN (SELECT value FROM json_each(?)))",
    )
    params.insert(0, to_json(sorted(principals)))
    return " AND ".join(conditions), params


def permitted_rowids_query(
    principals: frozenset[str], filters: SearchFilters
) -> tuple[str, list[Any]]:
    """One row holding the comma-separated rowids of every document the caller may see.

    Driven from the principal index rather than the documents table (and packed into one
    string) because the vector leg needs the whole permitted set before ranking, and that set
    can be most of a 100k-document index.
    """
    conditions, params = _filter_conditions(filters)
    join = " JOIN documents d ON d.doc_rowid = p.doc_rowid" if conditions else ""
    where = " AND ".join(["p.principal IN (SELECT value FROM json_each(?))", *conditions])
    sql = f"SELECT group_concat(p.doc_rowid) FROM doc_principals p{join} WHERE {where}"
    return sql, [to_json(sorted(principals)), *params]


def _filter_conditions(filters: SearchFilters) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    if filters.sources is not None:
        conditions.append("d.source_id IN (SELECT value FROM json_each(?))")
        params.append(to_json(sorted(filters.sources)))
    if filters.doc_types is not None:
        conditions.append("d.doc_type IN (SELECT value FROM json_each(?))")
        params.append(to_json(sorted(filters.doc_types)))
    # Both bounds inclusive, like OpenSearch's gte/lte range.
    if filters.updated_after is not None:
        conditions.append("d.updated_ts >= ?")
        params.append(timestamp(filters.updated_after))
    if filters.updated_before is not None:
        conditions.append("d.updated_ts <= ?")
        params.append(timestamp(filters.updated_before))
    # Per key (keys AND, values OR) the documents holding one of the values, read once from the
    # side table's (key, value) primary key and intersected in the same query as the ACL join,
    # so top-k ranks only documents the filter admits. Not a correlated EXISTS: that probes
    # once per candidate document, 100x slower for a rare value over a 100k-document index.
    for key, values in sorted((filters.metadata or {}).items()):
        conditions.append(
            "d.doc_rowid IN (SELECT m.doc_rowid FROM doc_metadata m WHERE m.key = ?"
            " AND m.value IN (SELECT value FROM json_each(?)))"
        )
        params += [key, to_json(sorted(values))]
    return conditions, params


def hit_from_row(row: Sequence[Any], score: float, highlights: list[str]) -> Hit:
    chunk_index, body, doc_id = row[0], row[1], row[2]
    return Hit(
        chunk_id=chunk_id(doc_id, chunk_index),
        doc_id=doc_id,
        source_id=row[3],
        external_id=row[4],
        chunk_index=chunk_index,
        text=body,
        title=row[5],
        url=row[6],
        author=row[7],
        doc_type=row[8],
        content_type=row[9],
        created_at=datetime.fromisoformat(row[13]) if row[13] else None,
        updated_at=datetime.fromisoformat(row[10]),
        breadcrumbs=tuple(json.loads(row[11])),
        metadata=json.loads(row[14]),
        acl=frozenset(json.loads(row[12])),
        score=score,
        highlights=highlights,
    )


def chunk_id(doc_id: str, chunk_index: int) -> str:
    return f"{doc_id}#{chunk_index}"


def read_generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'write_generation'").fetchone()
    return 0 if row is None else int(row[0])


def bump_generation(conn: sqlite3.Connection) -> None:
    """Mark that chunk vectors changed, so every process's in-memory matrix reloads."""
    conn.execute(
        "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
        " WHERE key = 'write_generation'"
    )


def read_search_stamp(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'search_stamp'").fetchone()
    return 0 if row is None else int(row[0])


def bump_search_stamp(conn: sqlite3.Connection) -> None:
    """Mark that what a search can return changed (text, vectors, ACLs or filtered fields).

    Two read transactions that read the same stamp see the same searchable state, so the two
    legs of a hybrid query may run on two connections at once.
    """
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('search_stamp', '1') ON CONFLICT (key)"
        " DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
    )
