"""The embedded keyword leg's split ranking (rare terms first, common ones bounded) returns what
the plain OR of every term returns: the same chunks, in the same order, with the same scores."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import indexer.backends.embedded.keyword as keyword
from indexer.backends import Stores
from indexer.backends.embedded import open_embedded
from indexer.backends.embedded.index import BODY_WEIGHT, TITLE_WEIGHT, EmbeddedIndex
from indexer.backends.embedded.rows import permitted_documents_clause
from indexer.backends.embedded.spread import SpreadStatements
from indexer.records import SearchFilters
from indexer.settings import EmbeddedSettings
from tests.conformance.builders import axis, document

ALICE, BOB = "user:alice@example.com", "user:bob@example.com"
# Share of chunks holding each word: two common ones, two middling, three rare.
WORDS = {
    "cell": 0.45,
    "protein": 0.4,
    "kinase": 0.15,
    "receptor": 0.12,
    "zebrafish": 0.03,
    "telomere": 0.02,
    "quasar": 0.02,
}
FILLER = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    rng = random.Random(7)
    opened = open_embedded(EmbeddedSettings(path=tmp_path / "index.sqlite"), 8)
    opened.index.ensure_schema()
    writes = []
    for i in range(600):
        words = [w for w, share in WORDS.items() if rng.random() < share]
        # Repeats and lengths vary, so term frequency and length normalisation both matter.
        text = " ".join(rng.choice(FILLER) for _ in range(rng.randint(3, 40)))
        text += " " + " ".join(w for w in words for _ in range(rng.randint(1, 3)))
        title = rng.choice(words) if words and rng.random() < 0.3 else "note"
        acl = {ALICE} if i % 3 else {BOB}
        writes.append(document("wiki", f"d{i}", [(text, axis(i, 8))], acl, title=title))
    assert not opened.index.write_documents(writes).failed
    opened.index.refresh()
    yield opened
    opened.close()


def ranked(
    stores: Stores,
    terms: list[str],
    k: int,
    split_rows: int,
    counts: keyword.TermCounts | None = None,
    *,
    spread_out: bool = False,
) -> list[tuple[int, float]]:
    """The ranking on one connection, or with the statements of a step at once (spread.py)."""
    index = stores.index
    assert isinstance(index, EmbeddedIndex)
    clause, params = permitted_documents_clause(frozenset({ALICE}), SearchFilters())
    with index.db.read() as conn:
        runner = SpreadStatements(index.db, index._leg_pool(), conn) if spread_out else None
        out = keyword.rank_chunks(
            conn,
            terms,
            clause,
            params,
            k,
            (TITLE_WEIGHT, BODY_WEIGHT),
            counts or keyword.TermCounts(),
            split_rows=split_rows,
            statements=runner,
        )
    return [(r.chunk_rowid, r.rank) for r in out]


@pytest.mark.parametrize("k", [5, 20, 60])
def test_split_ranking_equals_the_plain_or(
    stores: Stores, k: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    splits: list[set[str]] = []
    real = keyword._split_expressions

    def spy(terms: list[str], rare: set[str]) -> list[str]:
        splits.append(rare)
        return real(terms, rare)

    monkeypatch.setattr(keyword, "_split_expressions", spy)
    terms = list(WORDS)
    plain = ranked(stores, terms, k, split_rows=10**9)
    split = ranked(stores, terms, k, split_rows=30)
    assert splits, "the split path ran"
    assert len(plain) == k
    assert_same(split, plain)


@pytest.mark.parametrize(("k", "split_rows"), [(5, 30), (20, 30), (60, 30), (20, 10**9)])
def test_floor_terms_are_left_out_of_the_scoring_at_the_cost_of_their_slack_only(
    stores: Stores, k: int, split_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "alpha" and "beta" are in most chunks (FTS5's floor idf): the ranking runs without them,
    # so a chunk may rank up to their slack worse than in the plain OR, never more.
    statements: list[str] = []
    real = keyword._first_pass

    def spy(conn: Any, **kwargs: Any) -> list[tuple[int, float]]:
        statements.append(kwargs["expression"])
        return real(conn, **kwargs)

    terms = [*WORDS, "alpha", "beta"]
    with stores.index.db.read() as conn:  # type: ignore[attr-defined]
        rows, hits = keyword.TermCounts().of(conn, terms)
    assert hits["alpha"] * 2 >= rows and hits["beta"] * 2 >= rows
    plain = ranked(stores, terms, k, split_rows=10**9)
    monkeypatch.setattr(keyword, "_first_pass", spy)
    split = ranked(stores, terms, k, split_rows=split_rows)
    assert statements and not any('"alpha"' in e or '"beta"' in e for e in statements)
    slack = 2 * keyword.FLOOR_SLACK
    assert len(split) == len(plain) == k
    # bm25() is negative (lower is better): a left-out share makes a rank higher by up to slack.
    for (_, got), (_, want) in zip(split, plain, strict=True):
        assert want - 1e-9 <= got <= want + slack + 1e-9
    kth = plain[-1][1]
    for rowid in {r for r, _ in plain} - {r for r, _ in split}:
        assert dict(plain)[rowid] >= kth - slack - 1e-9


def test_chunks_holding_floor_terms_only_are_found_when_nothing_ranks_above_them(
    stores: Stores,
) -> None:
    # "quasar" is in 2% of the chunks: with k above that, chunks holding only the floor terms
    # must fill the page, as in the plain OR.
    terms = ["quasar", "alpha", "beta"]
    plain = ranked(stores, terms, 60, split_rows=10**9)
    split = ranked(stores, terms, 60, split_rows=30)
    assert len(plain) == 60
    assert_same(split, plain)


def test_a_chunk_with_rare_terms_only_still_ranks(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short chunk holding only rare words: found through the (R) NOT (C) half of the split.
    monkeypatch.setattr(keyword, "SPLIT_ROWS", 30)
    text = "zebrafish telomere quasar"
    stores.index.write_documents([document("wiki", "rare", [(text, axis(0, 8))], {ALICE})])
    stores.index.refresh()
    hits = stores.index.keyword_search(" ".join(WORDS), frozenset({ALICE}), SearchFilters(), 5)
    assert hits[0].doc_id == "wiki:rare"
    assert any("<em>zebrafish</em>" in fragment for fragment in hits[0].highlights)


def test_a_query_of_very_common_words_only_still_finds_chunks(stores: Stores) -> None:
    hits = stores.index.keyword_search("alpha beta", frozenset({ALICE}), SearchFilters(), 5)
    assert len(hits) == 5


def test_cached_term_counts_follow_writes(stores: Stores) -> None:
    # The counts decide which terms may be left out: stale ones would bound scores wrongly.
    counts = keyword.TermCounts()
    terms = list(WORDS)
    assert_same(ranked(stores, terms, 10, 30, counts), ranked(stores, terms, 10, 10**9))
    # "quasar" goes from rare to common, "cell" stays: the split must see the new counts.
    text = "quasar quasar quasar receptor"
    stores.index.write_documents(
        [document("wiki", f"q{i}", [(text, axis(i, 8))], {ALICE}) for i in range(300)]
    )
    stores.index.refresh()
    assert_same(ranked(stores, terms, 10, 30, counts), ranked(stores, terms, 10, 10**9))


def assert_same(split: list[tuple[int, float]], plain: list[tuple[int, float]]) -> None:
    """Same chunks in the same order; scores equal but for the float sum's order."""
    assert [rowid for rowid, _ in split] == [rowid for rowid, _ in plain]
    assert all(abs(a - b) < 1e-9 for (_, a), (_, b) in zip(split, plain, strict=True))
