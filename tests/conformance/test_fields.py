"""Document fields on both backends: metadata and created_at stored and returned, the metadata
filter inside every leg (with the ACL filter), and update_fields re-writing fields alone."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.documents import MetadataValue
from indexer.backends import IndexBackend, Stores
from indexer.backends.embedded import open_embedded
from indexer.backends.embedded.schema import MIGRATIONS
from indexer.backends.embedded.vectors import to_blob
from indexer.embedding import HashingEmbedder
from indexer.records import DocumentWrite, FieldsUpdate, Hit, SearchFilters
from indexer.settings import EmbeddedSettings
from retrieval.models import SearchQuery
from retrieval.searcher import Searcher
from retrieval.settings import RetrievalSettings
from tests.conformance.builders import ALICE, BOB, ENG, T0, axis, blend, document

EVERYTHING = SearchFilters()
ALICE_ONLY = frozenset({ALICE})
CREATED = datetime(2023, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
RICH: dict[str, MetadataValue] = {
    "status": "In Progress",
    "labels": ["backend", "urgent"],
    "points": 3,
    "ratio": 0.5,
    "flag": True,
}


def _with(write: DocumentWrite, **fields: object) -> DocumentWrite:
    return write.model_copy(update=fields)


def _every_read(index: IndexBackend, query: str, doc_id: str, dimension: int) -> list[Hit]:
    """The document's hits from every read path: keyword, vector, both hybrid legs, by id."""
    keyword = index.keyword_search(query, ALICE_ONLY, EVERYTHING, 10)
    vector = index.vector_search(axis(0, dimension), ALICE_ONLY, EVERYTHING, 10)
    both = index.hybrid_candidates(query, axis(0, dimension), ALICE_ONLY, EVERYTHING, 10)
    chunks = index.get_document_chunks(doc_id, ALICE_ONLY)
    hits = [h for leg in (keyword, vector, *both, chunks) for h in leg if h.doc_id == doc_id]
    assert {h.doc_id for h in keyword} >= {doc_id} and chunks
    return hits


def test_metadata_and_created_at_round_trip_through_every_read(
    stores: Stores, dimension: int
) -> None:
    index = stores.index
    rich = _with(
        document("jira", "1", [("release blocker ticket", axis(0, dimension))], {ALICE}),
        metadata=RICH,
        created_at=CREATED,
    )
    bare = _with(
        document("jira", "2", [("release notes draft", axis(0, dimension))], {ALICE}),
        metadata={},
    )
    assert index.write_documents([rich, bare]).failed == []
    index.refresh()

    hits = _every_read(index, "release", "jira:1", dimension)
    assert len(hits) == 5
    for hit in hits:
        assert hit.metadata == RICH
        # Types survive: a number stays a number, a boolean a boolean.
        assert [type(hit.metadata[k]) for k in ("points", "ratio", "flag")] == [int, float, bool]
        assert hit.created_at == CREATED
        assert hit.updated_at == T0
    for hit in _every_read(index, "release", "jira:2", dimension):
        assert (hit.metadata, hit.created_at) == ({}, None)


def _ticket(
    number: int, acl: frozenset[str], metadata: dict[str, MetadataValue], dimension: int
) -> DocumentWrite:
    # Every ticket matches the query and sits near the query vector; only metadata tells apart.
    vector = blend(axis(0, dimension), axis(number, dimension), 0.1 * number)
    return _with(
        document("jira", str(number), [(f"ticket number {number}", vector)], acl),
        metadata=metadata,
    )


def test_metadata_filter_applies_inside_every_leg_with_the_acl_filter(
    stores: Stores, dimension: int
) -> None:
    index = stores.index
    index.write_documents(
        [
            _ticket(1, ALICE_ONLY, RICH, dimension),
            _ticket(2, ALICE_ONLY, {"status": "Open", "labels": ["frontend"]}, dimension),
            _ticket(3, ALICE_ONLY, {}, dimension),
            # The same fields as ticket 1, but only Bob may see it.
            _ticket(4, frozenset({BOB}), RICH, dimension),
            _ticket(5, frozenset({ENG}), {"status": "Open"}, dimension),
        ]
    )
    index.refresh()

    def f(**metadata: set[str]) -> SearchFilters:
        return SearchFilters(metadata={k: frozenset(v) for k, v in metadata.items()})

    cases: list[tuple[SearchFilters, set[int]]] = [
        (EVERYTHING, {1, 2, 3}),
        (SearchFilters(metadata={}), {1, 2, 3}),
        (f(status={"In Progress"}), {1}),
        (f(status={"In Progress", "Open"}), {1, 2}),  # several values: any of them
        (f(status={"in progress"}), set()),  # exact values, not analysed text
        (f(labels={"urgent"}), {1}),  # any element of a list
        (f(labels={"frontend", "urgent"}), {1, 2}),
        (f(status={"In Progress"}, labels={"backend"}), {1}),  # several keys: all of them
        (f(status={"In Progress"}, labels={"frontend"}), set()),
        (f(points={"3"}), {1}),  # numbers and booleans by their str()
        (f(ratio={"0.5"}), {1}),
        (f(flag={"True"}), {1}),
        (f(flag={"true"}), set()),
        (f(absent={"x"}), set()),  # a key the document lacks never matches
        (f(status=set()), set()),  # no accepted value: nothing
        (
            SearchFilters(sources=frozenset({"wiki"}), metadata={"status": frozenset({"Open"})}),
            set(),
        ),
    ]
    target = axis(0, dimension)
    for filters, numbers in cases:
        expected = {f"jira:{n}" for n in numbers}
        keyword = index.keyword_search("ticket", ALICE_ONLY, filters, 10)
        vector = index.vector_search(target, ALICE_ONLY, filters, 10)
        both = index.hybrid_candidates("ticket", target, ALICE_ONLY, filters, 10)
        assert {h.doc_id for h in keyword} == expected, filters
        assert {h.doc_id for h in vector} == expected, filters
        assert ({h.doc_id for h in both[0]}, {h.doc_id for h in both[1]}) == (expected, expected)

    # The filter narrows what the caller may see, never widens it.
    for principals, expected_ids in [
        (frozenset({BOB}), {"jira:4"}),
        (frozenset({ENG}), set()),
        (frozenset({ALICE, ENG}), {"jira:1"}),
        (frozenset({"user:mallory@example.com"}), set()),
    ]:
        progress = f(status={"In Progress"})
        assert {h.doc_id for h in index.keyword_search("ticket", principals, progress, 10)} == (
            expected_ids
        )
        assert {h.doc_id for h in index.vector_search(target, principals, progress, 10)} == (
            expected_ids
        )
    open_for_eng = f(status={"Open"})
    assert {h.doc_id for h in index.vector_search(target, frozenset({ENG}), open_for_eng, 10)} == {
        "jira:5"
    }


def test_metadata_filter_is_applied_before_top_k(stores: Stores, dimension: int) -> None:
    """Many nearer, better-matching documents the filter rejects must not crowd out the match."""
    index = stores.index
    target = axis(0, dimension)
    others = [
        _with(
            document("slack", f"m{i}", [("deploy deploy deploy deploy", target)], {ALICE}),
            metadata={"channel": "random"},
        )
        for i in range(40)
    ]
    wanted = _with(
        document(
            "slack",
            "wanted",
            [("deploy and many other words", blend(target, axis(1, dimension), 0.6))],
            {ALICE},
        ),
        metadata={"channel": "ops"},
    )
    index.write_documents([*others, wanted])
    index.refresh()
    ops = SearchFilters(metadata={"channel": frozenset({"ops"})})
    assert [h.doc_id for h in index.keyword_search("deploy", ALICE_ONLY, ops, 1)] == [
        "slack:wanted"
    ]
    assert [h.doc_id for h in index.vector_search(target, ALICE_ONLY, ops, 1)] == ["slack:wanted"]
    keyword, vector = index.hybrid_candidates("deploy", target, ALICE_ONLY, ops, 1)
    assert [h.doc_id for h in keyword] == [h.doc_id for h in vector] == ["slack:wanted"]


def test_a_rewrite_replaces_the_metadata_filters_match(stores: Stores, dimension: int) -> None:
    index = stores.index
    first = _with(
        document("jira", "1", [("ticket text", axis(0, dimension))], {ALICE}),
        metadata={"status": "Open"},
    )
    index.write_documents([first])
    index.write_documents([_with(first, metadata={"status": "Done"})])
    index.refresh()
    for status, expected in (("Open", []), ("Done", ["jira:1"])):
        filters = SearchFilters(metadata={"status": frozenset({status})})
        assert [h.doc_id for h in index.keyword_search("ticket", ALICE_ONLY, filters, 5)] == (
            expected
        )


def test_an_oversized_metadata_value_is_stored_but_not_filterable(
    stores: Stores, dimension: int
) -> None:
    # OpenSearch refuses keyword terms over 32 KB: such a value must not fail the write.
    index = stores.index
    huge = "long description " * 3000
    write = _with(
        document("drive", "1", [("spreadsheet", axis(0, dimension))], {ALICE}),
        metadata={"description": huge, "mime_type": "text/csv"},
    )
    assert index.write_documents([write]).failed == []
    index.refresh()
    [hit] = index.keyword_search("spreadsheet", ALICE_ONLY, EVERYTHING, 5)
    assert hit.metadata == {"description": huge, "mime_type": "text/csv"}
    mime = SearchFilters(metadata={"mime_type": frozenset({"text/csv"})})
    assert len(index.keyword_search("spreadsheet", ALICE_ONLY, mime, 5)) == 1
    description = SearchFilters(metadata={"description": frozenset({huge})})
    assert index.keyword_search("spreadsheet", ALICE_ONLY, description, 5) == []


def test_update_fields_rewrites_the_fields_and_keeps_text_vectors_and_acl(
    stores: Stores, dimension: int
) -> None:
    index = stores.index
    original = _with(
        document(
            "jira",
            "7",
            [
                ("first chunk of the ticket", axis(0, dimension)),
                ("second part", axis(1, dimension)),
            ],
            {ALICE, ENG},
            title="Login fails",
            doc_type="ticket",
        ),
        metadata={"status": "Open", "k": "v"},
        created_at=CREATED,
        fields_fingerprint="f1",
        version="v1",
    )
    other = document("jira", "8", [("unrelated ticket", axis(2, dimension))], {ALICE})
    assert index.write_documents([original, other]).failed == []
    index.refresh()
    [before] = list(fp for fp in index.iter_fingerprints("jira") if fp.doc_id == "jira:7")
    assert before.fields_fingerprint == "f1"

    updated_at = datetime(2024, 3, 4, tzinfo=UTC)
    indexed_at = datetime(2031, 1, 2, 3, 4, tzinfo=UTC)
    update = FieldsUpdate(
        doc_id="jira:7",
        url="https://example.com/moved/7",
        author="bob@example.com",
        doc_type="incident",
        created_at=None,
        updated_at=updated_at,
        # "k" is gone: the new metadata replaces the old, it is not merged into it.
        metadata={"status": "Done", "labels": ["auth"]},
        fields_fingerprint="f2",
        indexed_at=indexed_at,
        version="v2",
    )
    result = index.update_fields([update])
    assert (result.written, result.failed) == (["jira:7"], [])
    index.refresh()

    chunks = index.get_document_chunks("jira:7", ALICE_ONLY)
    assert [c.text for c in chunks] == ["first chunk of the ticket", "second part"]
    [kw] = index.keyword_search("first", ALICE_ONLY, EVERYTHING, 5)
    [vec] = [h for h in index.vector_search(axis(1, dimension), ALICE_ONLY, EVERYTHING, 1)]
    assert vec.doc_id == "jira:7" and vec.chunk_index == 1 and vec.score > 0.9
    for hit in [*chunks, kw, vec]:
        assert (hit.url, hit.author, hit.doc_type) == (update.url, update.author, "incident")
        assert (hit.updated_at, hit.created_at) == (updated_at, None)
        assert hit.metadata == {"status": "Done", "labels": ["auth"]}
        assert (hit.title, hit.content_type, hit.breadcrumbs) == (
            "Login fails",
            "text/plain",
            original.breadcrumbs,
        )
        assert hit.acl == {ALICE, ENG}
    assert index.keyword_search("first", frozenset({BOB}), EVERYTHING, 5) == []
    assert index.vector_search(axis(1, dimension), frozenset({BOB}), EVERYTHING, 5) == []

    # Filters see the new values in every leg, and no longer the old ones.
    def ids(filters: SearchFilters) -> tuple[set[str], set[str]]:
        keyword, vector = index.hybrid_candidates(
            "ticket", axis(0, dimension), ALICE_ONLY, filters, 10
        )
        return {h.doc_id for h in keyword}, {h.doc_id for h in vector}

    for filters, expected in [
        (SearchFilters(metadata={"status": frozenset({"Done"})}), {"jira:7"}),
        (SearchFilters(metadata={"labels": frozenset({"auth"})}), {"jira:7"}),
        (SearchFilters(metadata={"status": frozenset({"Open"})}), set()),
        (SearchFilters(metadata={"k": frozenset({"v"})}), {"jira:8"}),
        (SearchFilters(doc_types=frozenset({"incident"})), {"jira:7"}),
        (SearchFilters(doc_types=frozenset({"ticket"})), set()),
        (SearchFilters(updated_after=datetime(2024, 2, 1, tzinfo=UTC)), {"jira:7"}),
    ]:
        assert ids(filters) == (expected, expected), filters

    [after] = [fp for fp in index.iter_fingerprints("jira") if fp.doc_id == "jira:7"]
    assert after.fields_fingerprint == "f2"
    assert (after.content_fingerprint, after.acl_fingerprint) == (
        before.content_fingerprint,
        before.acl_fingerprint,
    )
    assert (after.version, after.indexed_at) == ("v2", indexed_at)
    stats = index.stats()
    assert (stats.documents, stats.chunks) == (2, 3)

    # Without a version the recorded one stays, as with replace_acls.
    again = update.model_copy(update={"version": None, "fields_fingerprint": "f3"})
    assert index.update_fields([again]).written == ["jira:7"]
    index.refresh()
    [last] = [fp for fp in index.iter_fingerprints("jira") if fp.doc_id == "jira:7"]
    assert (last.fields_fingerprint, last.version) == ("f3", "v2")


def test_update_fields_of_an_unknown_document_is_reported_not_raised(
    stores: Stores, dimension: int
) -> None:
    index = stores.index
    index.write_documents([document("wiki", "1", [("kept", axis(0, dimension))], {ALICE})])
    index.refresh()
    update = FieldsUpdate(
        doc_id="wiki:1", doc_type="page", updated_at=T0, metadata={"a": "b"}, fields_fingerprint="y"
    )
    missing = update.model_copy(update={"doc_id": "wiki:missing", "fields_fingerprint": "x"})
    result = index.update_fields([missing, update])
    assert result.written == ["wiki:1"]
    assert [f.doc_id for f in result.failed] == ["wiki:missing"]
    assert result.failed[0].reason
    assert index.update_fields([]).written == []
    index.refresh()
    assert index.get_document_chunks("wiki:missing", ALICE_ONLY) == []
    [hit] = index.get_document_chunks("wiki:1", ALICE_ONLY)
    assert hit.metadata == {"a": "b"}
    assert [f.fields_fingerprint for f in index.iter_fingerprints("wiki")] == ["y"]


def test_a_version_2_embedded_file_is_upgraded_and_its_metadata_becomes_filterable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v2.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for version in (0, 1):
        script = MIGRATIONS[version]
        assert isinstance(script, str)
        conn.executescript(script)
    conn.executescript(
        "CREATE TABLE schema_version (version INTEGER NOT NULL);"
        "INSERT INTO schema_version VALUES (2);"
        "INSERT INTO meta VALUES ('dimension', '8'), ('write_generation', '0');"
    )
    conn.execute(
        "INSERT INTO documents (doc_rowid, doc_id, source_id, external_id, title, doc_type,"
        " content_type, updated_at, updated_ts, breadcrumbs, metadata, acl, content_fingerprint,"
        " acl_fingerprint, indexed_at) VALUES (1, 'slack:1', 'slack', '1', 'Standup', 'message',"
        " 'text/plain', ?, ?, '[]', ?, ?, 'c', 'a', ?)",
        (
            T0.isoformat(),
            T0.timestamp(),
            json.dumps({"channel": "ops", "pinned": True}),
            json.dumps([ALICE]),
            T0.isoformat(),
        ),
    )
    conn.execute("INSERT INTO doc_principals VALUES (?, 1)", (ALICE,))
    conn.execute(
        "INSERT INTO chunks (chunk_rowid, doc_rowid, chunk_index, vector) VALUES (1, 1, 0, ?)",
        (to_blob(axis(0, 8), 8),),
    )
    conn.execute("INSERT INTO chunk_text VALUES ('Standup', 'standup notes')")
    conn.close()

    stores = open_embedded(EmbeddedSettings(path=path), 8)
    try:
        index = stores.index
        assert index.stats().schema_version == 3
        ops = SearchFilters(metadata={"channel": frozenset({"ops"}), "pinned": frozenset({"True"})})
        [hit] = index.keyword_search("standup", ALICE_ONLY, ops, 5)
        assert hit.metadata == {"channel": "ops", "pinned": True}
        assert [h.doc_id for h in index.vector_search(axis(0, 8), ALICE_ONLY, ops, 5)] == [
            "slack:1"
        ]
        assert [f.fields_fingerprint for f in index.iter_fingerprints("slack")] == [""]
    finally:
        stores.close()


def test_search_queries_filter_by_metadata_and_results_carry_the_fields(
    stores: Stores, dimension: int
) -> None:
    """Through retrieval's SearchQuery/SearchResult: the filter reaches every leg of each mode."""
    embedder = HashingEmbedder(dimension)
    writes = [
        _with(
            document("jira", str(i), [(text, embedder.embed_documents([text])[0])], {ALICE, ENG}),
            metadata={"status": status, "labels": ["auth"]},
            created_at=CREATED,
        )
        for i, (text, status) in enumerate([("login bug", "Done"), ("login crash", "Open")])
    ]
    stores.index.write_documents(writes)
    stores.index.refresh()
    searcher = Searcher(stores.index, embedder, RetrievalSettings())
    for mode in ("keyword", "vector", "hybrid"):
        query = SearchQuery(query="login", mode=mode, metadata={"status": ["Done"]})
        response = searcher.search(ALICE_ONLY, query, caller="alice@example.com")
        assert [(r.doc_id, r.metadata, r.created_at) for r in response.results] == [
            ("jira:0", {"status": "Done", "labels": ["auth"]}, CREATED)
        ], mode
    both = SearchQuery(query="login", metadata={"status": ["Done", "Open"], "labels": ["auth"]})
    response = searcher.search(ALICE_ONLY, both, caller="alice@example.com")
    assert {r.doc_id for r in response.results} == {"jira:0", "jira:1"}
    hidden = searcher.search(frozenset({BOB}), both, caller="bob@example.com")
    assert hidden.results == []


def test_search_query_metadata_filters_are_bounded() -> None:
    SearchQuery(query="q", metadata={f"k{i}": ["v"] * 50 for i in range(20)})
    SearchQuery(query="q", metadata={"k" * 256: ["v" * 256, ""]})
    for bad in [
        {f"k{i}": ["v"] for i in range(21)},
        {"k": ["v"] * 51},
        {"k" * 257: ["v"]},
        {"k": ["v" * 257]},
        {"": ["v"]},
        {"k": []},
        {"k": "v"},
        {"k": ["\ud800"]},
    ]:
        with pytest.raises(ValidationError):
            SearchQuery.model_validate({"query": "q", "metadata": bad})
