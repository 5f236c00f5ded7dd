"""Issue 7 item 12: highlights are the one HTML field of a result, so everything in them but the
``<em>`` marks must be escaped text, on both backends and in the fallback for vector-only hits.

A document is untrusted input: whoever can write a source can put markup in it.
"""

from __future__ import annotations

import html
import re

import pytest

from indexer.backends import Stores
from indexer.records import SearchFilters
from retrieval.highlight import fallback_highlights
from tests.conformance.builders import ALICE, axis, document

EVERYTHING = SearchFilters()
ALICE_ONLY = frozenset({ALICE})

HOSTILE = (
    'The quasar report <img src=x onerror="alert(1)"> was filed; '
    "the wiki showed &lt;script&gt;alert(2)&lt;/script&gt; next to the quasar chart."
)
HOSTILE_TITLE = "<script>alert(3)</script> Pulsar & quasar"
MARK = re.compile(r"</?em>")


def assert_safe(fragment: str, source: str) -> None:
    """Only ``<em>``/``</em>`` are markup; the rest unescapes back to the source's own text."""
    unmarked = MARK.sub("", fragment)
    assert "<" not in unmarked and ">" not in unmarked, fragment
    assert fragment.count("<em>") == fragment.count("</em>") >= 1, fragment
    for piece in html.unescape(unmarked).strip("…").split("…"):
        assert piece in source, (piece, source)


def write_hostile(stores: Stores, dimension: int) -> None:
    stores.index.write_documents(
        [
            document("wiki", "body", [(HOSTILE, axis(0, dimension))], {ALICE}, title="Notes"),
            document(
                "wiki",
                "title",
                [("nothing in the body matches", axis(1, dimension))],
                {ALICE},
                title=HOSTILE_TITLE,
            ),
        ]
    )
    stores.index.refresh()


def test_keyword_highlights_escape_markup_in_the_body(stores: Stores, dimension: int) -> None:
    write_hostile(stores, dimension)
    [hit] = stores.index.keyword_search("quasar report", ALICE_ONLY, EVERYTHING, 5)[:1]
    assert hit.doc_id == "wiki:body"
    assert hit.highlights
    for fragment in hit.highlights:
        assert_safe(fragment, HOSTILE)
    joined = " ".join(hit.highlights)
    assert "<em>quasar</em>" in joined.lower()
    # Text that was already an entity in the source stays text: escaped once more.
    assert "&amp;lt;script&amp;gt;" in joined
    assert "&lt;img" in joined


def test_keyword_highlights_escape_markup_in_the_title(stores: Stores, dimension: int) -> None:
    write_hostile(stores, dimension)
    hits = stores.index.keyword_search("pulsar", ALICE_ONLY, EVERYTHING, 5)
    [hit] = [h for h in hits if h.doc_id == "wiki:title"]
    assert hit.highlights
    for fragment in hit.highlights:
        assert_safe(fragment, HOSTILE_TITLE)
    assert "&lt;script&gt;" in hit.highlights[0]
    assert "&amp;" in hit.highlights[0]


def test_hybrid_candidates_carry_the_same_escaped_highlights(
    stores: Stores, dimension: int
) -> None:
    write_hostile(stores, dimension)
    keyword, _ = stores.index.hybrid_candidates(
        "quasar", axis(0, dimension), ALICE_ONLY, EVERYTHING, 5
    )
    [hit] = [h for h in keyword if h.doc_id == "wiki:body"]
    for fragment in hit.highlights:
        assert_safe(fragment, HOSTILE)


def test_fallback_highlights_escape_then_mark() -> None:
    [fragment] = fallback_highlights("quasar", HOSTILE)
    assert_safe(fragment, HOSTILE)
    assert "&amp;lt;script&amp;gt;" in fragment
    assert "<em>quasar</em>" in fragment


@pytest.mark.parametrize("term", ["lt", "amp", "quot", "gt"])
def test_fallback_marks_never_split_an_entity(term: str) -> None:
    # Marking after escaping would find "lt" inside "&lt;" and break the entity apart.
    text = f'a < b & "c" > d, then {term} once'
    [fragment] = fallback_highlights(term, text)
    assert_safe(fragment, text)
    assert fragment.count("<em>") == 1
    assert f"<em>{term}</em> once" in fragment
