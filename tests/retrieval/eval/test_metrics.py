"""The harness reports the numbers ir-measures gives for a known ranking, and counts empty runs."""

from __future__ import annotations

import math

import pytest

from retrieval.evaluation.metrics import latency_summary, quality


def test_ndcg_recall_mrr_match_a_hand_computed_ranking() -> None:
    qrels = {"q1": {"a": 1, "c": 2}}
    # a relevant (1) at rank 1, b irrelevant, c relevant (2) at rank 3.
    means, _ = quality(qrels, {"q1": ["a", "b", "c"]})
    # trec_eval's nDCG (what BEIR reports): linear gain, log2(rank + 1) discount.
    dcg = 1 / math.log2(2) + 2 / math.log2(4)
    ideal = 2 / math.log2(2) + 1 / math.log2(3)
    assert means["ndcg@10"] == pytest.approx(dcg / ideal)
    assert means["recall@100"] == pytest.approx(1.0)
    assert means["mrr"] == pytest.approx(1.0)


def test_order_of_results_not_raw_scores_decides() -> None:
    qrels = {"q1": {"c": 1}}
    means, _ = quality(qrels, {"q1": ["a", "b", "c", "d"]})
    assert means["mrr"] == pytest.approx(1 / 3)
    assert means["ndcg@10"] == pytest.approx(1 / math.log2(4))


def test_query_without_results_counts_as_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    means, per_query = quality(qrels, {"q1": ["a"]})
    assert per_query["q2"] == {"ndcg@10": 0.0, "recall@100": 0.0, "mrr": 0.0}
    assert means["ndcg@10"] == pytest.approx(0.5)


def test_latency_percentiles() -> None:
    summary = latency_summary([float(v) for v in range(1, 101)])
    assert summary["p50"] == pytest.approx(50.5)
    assert summary["p95"] == pytest.approx(95.05)
