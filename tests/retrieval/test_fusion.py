"""Fusion and collapse arithmetic on hand-made legs (no index needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from indexer.records import Hit
from retrieval.collapse import collapse
from retrieval.fusion import fuse_minmax, fuse_rrf, merge_legs


def hit(chunk_id: str, score: float, doc_id: str | None = None) -> Hit:
    doc = doc_id or chunk_id.split("#")[0]
    return Hit(
        chunk_id=chunk_id,
        doc_id=doc,
        source_id="wiki",
        external_id=doc,
        chunk_index=0,
        text=f"text of {chunk_id}",
        title=doc,
        doc_type="page",
        content_type="text/plain",
        updated_at=datetime(2024, 1, 1, tzinfo=UTC),
        acl=frozenset({"org:acme"}),
        score=score,
    )


def test_rrf_rewards_agreement_between_legs() -> None:
    keyword = [hit("a#0", 9.0), hit("b#0", 8.0), hit("c#0", 1.0)]
    vector = [hit("b#0", 0.9), hit("c#0", 0.8)]
    fused = fuse_rrf(merge_legs(keyword, vector), k=60)
    # a is first by keyword alone, but b and c were found by both legs.
    assert [c.chunk_id for c in fused] == ["b#0", "c#0", "a#0"]
    b = fused[0]
    assert b.fused == pytest.approx(1 / 62 + 1 / 61)
    assert (b.keyword_rank, b.vector_rank) == (2, 1)


def test_minmax_weights_the_legs() -> None:
    keyword = [hit("a#0", 10.0), hit("b#0", 5.0), hit("c#0", 0.0)]
    vector = [hit("c#0", 0.9), hit("b#0", 0.5), hit("a#0", 0.1)]
    by_keyword = fuse_minmax(merge_legs(keyword, vector), keyword_weight=0.9)
    by_vector = fuse_minmax(merge_legs(keyword, vector), keyword_weight=0.1)
    assert by_keyword[0].chunk_id == "a#0"
    assert by_vector[0].chunk_id == "c#0"
    balanced = {c.chunk_id: c.fused for c in fuse_minmax(merge_legs(keyword, vector), 0.5)}
    assert balanced["a#0"] == pytest.approx(0.5 * 1.0 + 0.5 * 0.0)
    assert balanced["b#0"] == pytest.approx(0.5 * 0.5 + 0.5 * 0.5)


def test_minmax_counts_a_missing_leg_as_zero() -> None:
    fused = fuse_minmax(merge_legs([hit("a#0", 3.0)], [hit("b#0", 0.7)]), keyword_weight=0.5)
    assert {c.chunk_id: c.fused for c in fused} == {"a#0": 0.5, "b#0": 0.5}


def test_collapse_keeps_the_best_k_chunks_per_document_in_order() -> None:
    keyword = [hit("a#0", 9), hit("a#1", 8), hit("b#0", 7), hit("a#2", 6), hit("b#1", 5)]
    ranked = fuse_rrf(merge_legs(keyword, []), k=60)
    assert [c.chunk_id for c in collapse(ranked, 1)] == ["a#0", "b#0"]
    assert [c.chunk_id for c in collapse(ranked, 2)] == ["a#0", "a#1", "b#0", "b#1"]
