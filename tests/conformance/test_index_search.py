"""Searches on both backends: ranking sanity, filters, the ACL filter before top-k, safe queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from indexer.backends import IndexBackend, Stores
from indexer.records import SearchFilters
from tests.conformance.builders import ALICE, BOB, ENG, ORG, T0, axis, blend, document

EVERYTHING = SearchFilters()
ALICE_ONLY = frozenset({ALICE})


def test_keyword_ranking_boosts_titles_and_highlights_matches(
    stores: Stores, dimension: int
) -> None:
    index = stores.index
    index.write_documents(
        [
            document(
                "wiki",
                "title",
                [("steps to roll out services safely", axis(0, dimension))],
                {ORG},
                title="Kubernetes deployment guide",
            ),
            document(
                "wiki",
                "body",
                [
                    (
                        "we talked about lunch, the weather, budgets and holidays; kubernetes "
                        "came up once near the end of a long meeting about other things",
                        axis(1, dimension),
                    )
                ],
                {ORG},
                title="Team notes",
            ),
            document(
                "wiki", "none", [("nothing relevant here", axis(2, dimension))], {ORG}, title="Misc"
            ),
        ]
    )
    index.refresh()
    hits = index.keyword_search("kubernetes", frozenset({ORG}), EVERYTHING, 10)
    assert [h.doc_id for h in hits] == ["wiki:title", "wiki:body"]
    assert hits[0].score > hits[1].score > 0
    assert any("kubernetes" in fragment.lower() for fragment in hits[1].highlights)

    # A chunk matching more of the query's terms ranks above one matching fewer.
    more = index.keyword_search("lunch weather budgets", frozenset({ORG}), EVERYTHING, 10)
    assert more[0].doc_id == "wiki:body"


def test_hits_carry_the_document_fields_they_were_written_with(
    stores: Stores, dimension: int
) -> None:
    index = stores.index
    written = document(
        "wiki",
        "7",
        [("alpha text", axis(0, dimension)), ("beta text", axis(1, dimension))],
        {ALICE, ENG},
        title="Seven",
        doc_type="page",
    )
    index.write_documents([written])
    index.refresh()
    [hit] = index.keyword_search("beta", ALICE_ONLY, EVERYTHING, 5)
    assert (hit.doc_id, hit.source_id, hit.external_id) == ("wiki:7", "wiki", "7")
    assert hit.chunk_index == 1
    assert (hit.text, hit.title, hit.url, hit.author) == (
        "beta text",
        "Seven",
        written.url,
        written.author,
    )
    assert (hit.doc_type, hit.content_type) == ("page", "text/plain")
    assert hit.breadcrumbs == written.breadcrumbs
    assert hit.updated_at == T0
    assert hit.acl == {ALICE, ENG}
    [vhit] = index.vector_search(axis(1, dimension), ALICE_ONLY, EVERYTHING, 1)
    assert vhit.chunk_id == hit.chunk_id


def test_vector_ranking_orders_by_similarity(stores: Stores, dimension: int) -> None:
    index = stores.index
    index.write_documents(
        [
            document("wiki", str(i), [(f"chunk {i}", axis(i, dimension))], {ORG})
            for i in range(dimension)
        ]
    )
    index.refresh()
    query = blend(blend(axis(0, dimension), axis(1, dimension), 0.3), axis(2, dimension), 0.2)
    hits = index.vector_search(query, frozenset({ORG}), EVERYTHING, 3)
    assert [h.doc_id for h in hits] == ["wiki:0", "wiki:1", "wiki:2"]
    assert hits[0].score > hits[1].score > hits[2].score
    assert len(index.vector_search(query, frozenset({ORG}), EVERYTHING, 100)) == dimension


def _filter_corpus(index: IndexBackend, dimension: int) -> None:
    def at(year: int, month: int) -> datetime:
        return datetime(year, month, 1, tzinfo=UTC)

    index.write_documents(
        [
            document("wiki", "old", [("budget report", axis(0, dimension))], {ORG},
                     doc_type="page", updated_at=at(2023, 1)),
            document("wiki", "mid", [("budget report", axis(0, dimension))], {ORG},
                     doc_type="page", updated_at=at(2024, 6)),
            document("jira", "new", [("budget report", axis(0, dimension))], {ORG},
                     doc_type="ticket", updated_at=at(2025, 3)),
            document("slack", "msg", [("budget report", axis(0, dimension))], {ORG},
                     doc_type="message", updated_at=at(2024, 9)),
        ]
    )  # fmt: skip
    index.refresh()


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (SearchFilters(), {"wiki:old", "wiki:mid", "jira:new", "slack:msg"}),
        (SearchFilters(sources=frozenset({"wiki"})), {"wiki:old", "wiki:mid"}),
        (SearchFilters(sources=frozenset({"jira", "slack"})), {"jira:new", "slack:msg"}),
        (SearchFilters(doc_types=frozenset({"ticket"})), {"jira:new"}),
        (
            SearchFilters(sources=frozenset({"wiki"}), doc_types=frozenset({"ticket"})),
            set(),
        ),
        (
            SearchFilters(updated_after=datetime(2024, 1, 1, tzinfo=UTC)),
            {"wiki:mid", "jira:new", "slack:msg"},
        ),
        (
            SearchFilters(updated_before=datetime(2024, 7, 1, tzinfo=UTC)),
            {"wiki:old", "wiki:mid"},
        ),
        (
            SearchFilters(
                updated_after=datetime(2024, 1, 1, tzinfo=UTC),
                updated_before=datetime(2024, 12, 31, tzinfo=UTC),
            ),
            {"wiki:mid", "slack:msg"},
        ),
        (SearchFilters(sources=frozenset({"nope"})), set()),
    ],
)
def test_filters_apply_to_both_legs(
    stores: Stores, dimension: int, filters: SearchFilters, expected: set[str]
) -> None:
    index = stores.index
    _filter_corpus(index, dimension)
    principals = frozenset({ORG})
    keyword = index.keyword_search("budget", principals, filters, 10)
    vector = index.vector_search(axis(0, dimension), principals, filters, 10)
    assert {h.doc_id for h in keyword} == expected
    assert {h.doc_id for h in vector} == expected
    both = index.hybrid_candidates("budget", axis(0, dimension), principals, filters, 10)
    assert ({h.doc_id for h in both[0]}, {h.doc_id for h in both[1]}) == (expected, expected)


def test_acl_filter_is_applied_before_top_k(stores: Stores, dimension: int) -> None:
    """Many better matches the caller cannot see must not crowd out the ones she can."""
    index = stores.index
    target = axis(0, dimension)
    hidden = [
        document("wiki", f"bob{i}", [("invoice invoice invoice invoice", target)], {BOB})
        for i in range(40)
    ]
    visible = [
        document(
            "wiki",
            f"alice{i}",
            [(f"invoice and many other words number {i}", blend(target, axis(1, dimension), 0.6))],
            {ALICE},
        )
        for i in range(3)
    ]
    index.write_documents(hidden + visible)
    index.refresh()
    expected = {f"wiki:alice{i}" for i in range(3)}
    keyword = index.keyword_search("invoice", ALICE_ONLY, EVERYTHING, 3)
    assert {h.doc_id for h in keyword} == expected
    assert {h.doc_id for h in index.vector_search(target, ALICE_ONLY, EVERYTHING, 3)} == expected
    keyword, vector = index.hybrid_candidates("invoice", target, ALICE_ONLY, EVERYTHING, 3)
    assert {h.doc_id for h in keyword} == {h.doc_id for h in vector} == expected


def test_callers_see_exactly_the_documents_whose_acl_they_intersect(
    stores: Stores, dimension: int
) -> None:
    index = stores.index
    acls = {
        "alice": {ALICE},
        "eng": {ENG},
        "alice-or-bob": {ALICE, BOB},
        "everyone": {ORG},
        "nobody": frozenset(),
    }
    index.write_documents(
        [
            document("wiki", name, [("shared secret words", axis(0, dimension))], acl)
            for name, acl in acls.items()
        ]
    )
    index.refresh()
    cases = {
        frozenset({ALICE}): {"alice", "alice-or-bob"},
        frozenset({BOB}): {"alice-or-bob"},
        frozenset({BOB, ENG}): {"alice-or-bob", "eng"},
        frozenset({ALICE, BOB, ENG, ORG}): {"alice", "eng", "alice-or-bob", "everyone"},
        frozenset({"user:mallory@example.com"}): set(),
        frozenset(): set(),
    }
    for principals, names in cases.items():
        expected = {f"wiki:{n}" for n in names}
        keyword = index.keyword_search("secret", principals, EVERYTHING, 10)
        vector = index.vector_search(axis(0, dimension), principals, EVERYTHING, 10)
        assert {h.doc_id for h in keyword} == expected, principals
        assert {h.doc_id for h in vector} == expected, principals
        for name in acls:
            chunks = index.get_document_chunks(f"wiki:{name}", principals)
            assert bool(chunks) == (name in names), (principals, name)


def test_get_document_chunks_returns_all_chunks_in_order(stores: Stores, dimension: int) -> None:
    index = stores.index
    texts = [f"part {i} of the handbook" for i in range(5)]
    index.write_documents(
        [document("wiki", "hb", [(t, axis(i, dimension)) for i, t in enumerate(texts)], {ENG})]
    )
    index.refresh()
    chunks = index.get_document_chunks("wiki:hb", frozenset({ENG}))
    assert [c.text for c in chunks] == texts
    assert [c.chunk_index for c in chunks] == list(range(5))
    assert len({c.chunk_id for c in chunks}) == 5
    assert index.get_document_chunks("wiki:hb", frozenset({ALICE})) == []
    assert index.get_document_chunks("wiki:absent", frozenset({ENG})) == []


# One index per test (not per query): creating an OpenSearch index costs seconds.
SYNTAX_QUERIES = [
    'revenue"',
    '"revenue',
    "revenue AND (",
    "title:revenue",
    "body:revenue OR",
    "revenue*",
    "-revenue",
    "NEAR(revenue plan)",
    "revenue^2 {x}",
    "revenue \\ ' ; DROP TABLE documents; --",
    "revenue\u0000\n\t",
]
TERMLESS_QUERIES = ["", "   ", '"', "()", "*", "AND", ":", "NOT OR", "\u2603"]


def test_user_query_syntax_is_searched_as_text_never_interpreted(
    stores: Stores, dimension: int
) -> None:
    index = stores.index
    index.write_documents(
        [
            document("wiki", "r", [("the revenue plan", axis(0, dimension))], {ALICE}),
            document("wiki", "x", [("the revenue plan", axis(0, dimension))], frozenset()),
        ]
    )
    index.refresh()
    for query in SYNTAX_QUERIES:
        hits = index.keyword_search(query, ALICE_ONLY, EVERYTHING, 5)
        assert [h.doc_id for h in hits] == ["wiki:r"], query
    assert index.stats().documents == 2
    for query in TERMLESS_QUERIES:
        assert index.keyword_search(query, ALICE_ONLY, EVERYTHING, 5) == [], query
