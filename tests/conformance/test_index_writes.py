"""Index writes on both backends: schema, replace-on-write, deletes, ACL updates, fingerprints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from indexer.backend import SCHEMA_VERSION
from indexer.backends import Stores
from indexer.records import AclUpdate, SearchFilters
from tests.conformance.builders import ALICE, BOB, ENG, axis, document

EVERYTHING = SearchFilters()


def test_ensure_schema_is_idempotent_and_keeps_data(stores: Stores, dimension: int) -> None:
    index = stores.index
    index.ensure_schema()
    index.write_documents([document("wiki", "1", [("hello world", axis(0, dimension))], {ALICE})])
    index.refresh()
    index.ensure_schema()
    index.ensure_schema()
    stats = index.stats()
    assert stats.schema_version == SCHEMA_VERSION
    assert stats.documents == 1
    assert [h.doc_id for h in index.keyword_search("hello", frozenset({ALICE}), EVERYTHING, 5)] == [
        "wiki:1"
    ]


def test_rewrite_replaces_every_chunk_and_a_shrink_leaves_no_stale_tail(
    stores: Stores, dimension: int
) -> None:
    index = stores.index
    long = document(
        "wiki",
        "1",
        [
            ("first part about apples", axis(0, dimension)),
            ("second part about bananas", axis(1, dimension)),
            ("third part about cherries", axis(2, dimension)),
        ],
        {ALICE},
        title="Fruit",
    )
    assert index.write_documents([long]).written == ["wiki:1"]
    index.refresh()
    assert len(index.get_document_chunks("wiki:1", frozenset({ALICE}))) == 3

    short = document(
        "wiki", "1", [("only durian now", axis(3, dimension))], {ALICE}, title="Durian"
    )
    result = index.write_documents([short])
    assert result.written == ["wiki:1"] and result.failed == []
    index.refresh()

    chunks = index.get_document_chunks("wiki:1", frozenset({ALICE}))
    assert [(c.chunk_index, c.text, c.title) for c in chunks] == [(0, "only durian now", "Durian")]
    for word in ("apples", "bananas", "cherries", "fruit"):
        assert index.keyword_search(word, frozenset({ALICE}), EVERYTHING, 10) == [], word
    # The old tail's vectors are gone too: the nearest chunk to them is the new one.
    for i in (1, 2):
        hits = index.vector_search(axis(i, dimension), frozenset({ALICE}), EVERYTHING, 10)
        assert [h.chunk_id for h in hits] == [chunks[0].chunk_id]
    stats = index.stats()
    assert (stats.documents, stats.chunks) == (1, 1)


def test_delete_removes_the_document_and_all_its_chunks(stores: Stores, dimension: int) -> None:
    index = stores.index
    index.write_documents(
        [
            document(
                "wiki",
                "1",
                [("gone soon", axis(0, dimension)), ("also gone", axis(1, dimension))],
                {ALICE},
            ),
            document("wiki", "2", [("stays here", axis(2, dimension))], {ALICE}),
        ]
    )
    index.refresh()
    index.delete_documents(["wiki:1", "wiki:never-existed"])
    index.refresh()

    assert index.get_document_chunks("wiki:1", frozenset({ALICE})) == []
    assert index.keyword_search("gone", frozenset({ALICE}), EVERYTHING, 10) == []
    hits = index.vector_search(axis(0, dimension), frozenset({ALICE}), EVERYTHING, 10)
    assert {h.doc_id for h in hits} == {"wiki:2"}
    assert [f.doc_id for f in index.iter_fingerprints("wiki")] == ["wiki:2"]
    stats = index.stats()
    assert (stats.documents, stats.chunks) == (1, 1)
    index.delete_documents([])


def test_acl_replacement_takes_effect_on_the_next_search_without_touching_content(
    stores: Stores, dimension: int
) -> None:
    index = stores.index
    index.write_documents(
        [document("wiki", "1", [("quarterly revenue plan", axis(0, dimension))], {ALICE})]
    )
    index.refresh()
    alice, bob = frozenset({ALICE}), frozenset({BOB})
    assert len(index.keyword_search("revenue", alice, EVERYTHING, 5)) == 1
    assert index.keyword_search("revenue", bob, EVERYTHING, 5) == []

    result = index.replace_acls([AclUpdate(doc_id="wiki:1", acl={BOB, ENG}, acl_fingerprint="a2")])
    assert result.written == ["wiki:1"]
    index.refresh()

    assert index.keyword_search("revenue", alice, EVERYTHING, 5) == []
    assert index.vector_search(axis(0, dimension), alice, EVERYTHING, 5) == []
    assert index.get_document_chunks("wiki:1", alice) == []
    for caller in (bob, frozenset({ENG})):
        [hit] = index.keyword_search("revenue", caller, EVERYTHING, 5)
        assert hit.acl == {BOB, ENG}
        assert hit.text == "quarterly revenue plan"
        [vhit] = index.vector_search(axis(0, dimension), caller, EVERYTHING, 5)
        assert vhit.doc_id == "wiki:1" and vhit.score > 0.9
    [fingerprint] = index.iter_fingerprints("wiki")
    assert (fingerprint.content_fingerprint, fingerprint.acl_fingerprint) == ("c1", "a2")

    # Replacing with an empty ACL hides the document from everyone.
    index.replace_acls([AclUpdate(doc_id="wiki:1", acl=frozenset(), acl_fingerprint="a3")])
    index.refresh()
    for caller in (alice, bob, frozenset({ENG, ALICE, BOB})):
        assert index.keyword_search("revenue", caller, EVERYTHING, 5) == []
        assert index.vector_search(axis(0, dimension), caller, EVERYTHING, 5) == []


def test_acl_replacement_of_an_unknown_document_is_reported_not_raised(stores: Stores) -> None:
    result = stores.index.replace_acls(
        [AclUpdate(doc_id="wiki:missing", acl={ALICE}, acl_fingerprint="a")]
    )
    assert result.written == []
    assert [f.doc_id for f in result.failed] == ["wiki:missing"]


def test_a_bad_document_fails_alone_and_the_rest_of_the_batch_is_written(
    stores: Stores, dimension: int
) -> None:
    index = stores.index
    good = document("wiki", "good", [("good text", axis(0, dimension))], {ALICE})
    wrong_dimension = document("wiki", "bad", [("bad text", [1.0] * (dimension + 3))], {ALICE})
    result = index.write_documents([good, wrong_dimension])
    index.refresh()
    assert result.written == ["wiki:good"]
    assert [f.doc_id for f in result.failed] == ["wiki:bad"]
    assert result.failed[0].reason
    assert index.get_document_chunks("wiki:bad", frozenset({ALICE})) == []
    assert len(index.get_document_chunks("wiki:good", frozenset({ALICE}))) == 1


def test_fingerprints_stream_per_source(stores: Stores, dimension: int) -> None:
    index = stores.index
    writes = [
        document(
            "wiki",
            f"{i:04d}",
            [(f"text {i}", axis(i, dimension))],
            {ALICE},
            content_fingerprint=f"c{i}",
            acl_fingerprint=f"a{i}",
        )
        for i in range(1203)
    ]
    writes.append(document("jira", "x", [("ticket", axis(0, dimension))], {ALICE}))
    for start in range(0, len(writes), 400):
        assert not index.write_documents(writes[start : start + 400]).failed
    index.refresh()

    stream = index.iter_fingerprints("wiki")
    assert isinstance(stream, Iterator)  # a stream, not a materialised list
    got = {f.doc_id: (f.external_id, f.content_fingerprint, f.acl_fingerprint) for f in stream}
    assert got == {f"wiki:{i:04d}": (f"{i:04d}", f"c{i}", f"a{i}") for i in range(1203)}
    assert [f.doc_id for f in index.iter_fingerprints("jira")] == ["jira:x"]
    assert list(index.iter_fingerprints("nothing-here")) == []


def test_stats_count_documents_and_chunks_per_source(stores: Stores, dimension: int) -> None:
    index = stores.index
    empty = index.stats()
    assert (empty.documents, empty.chunks, empty.sources) == (0, 0, {})
    index.write_documents(
        [
            document("wiki", "1", [("a", axis(0, dimension)), ("b", axis(1, dimension))], {ALICE}),
            document("wiki", "2", [("c", axis(2, dimension))], frozenset()),
            document("jira", "1", [("d", axis(3, dimension))] * 3, {BOB}),
        ]
    )
    index.refresh()
    stats = index.stats()
    assert stats.backend == index.name
    assert (stats.documents, stats.chunks) == (3, 6)
    assert {k: (v.documents, v.chunks) for k, v in stats.sources.items()} == {
        "wiki": (2, 3),
        "jira": (1, 3),
    }


def test_indexed_at_is_the_writers_clock_for_writes_and_acl_updates(
    stores: Stores, dimension: int
) -> None:
    # Pruning compares indexed_at with the listing start taken from the runner's clock; a backend
    # that stamped its own wall time would make that comparison meaningless under another clock.
    index = stores.index
    written_at = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
    updated_at = datetime(2032, 6, 2, 8, 30, tzinfo=UTC)
    write = document("wiki", "clocked", [("text", axis(0, dimension))], {ALICE})
    assert not index.write_documents([write.model_copy(update={"indexed_at": written_at})]).failed
    index.refresh()
    assert [f.indexed_at for f in index.iter_fingerprints("wiki")] == [written_at]

    update = AclUpdate(doc_id="wiki:clocked", acl=frozenset({BOB}), acl_fingerprint="a2")
    assert not index.replace_acls([update.model_copy(update={"indexed_at": updated_at})]).failed
    index.refresh()
    assert [f.indexed_at for f in index.iter_fingerprints("wiki")] == [updated_at]
