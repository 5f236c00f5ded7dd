"""Quality metrics via ir-measures, and latency percentiles.

A query that returned nothing scores 0 (ir-measures alone would leave it out of the mean and
flatter the run), so every mean is over all judged queries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ir_measures
import numpy as np
from ir_measures import RR, R, ScoredDoc, nDCG

MEASURES = {"ndcg@10": nDCG @ 10, "recall@100": R @ 100, "mrr": RR}


def quality(
    qrels: Mapping[str, Mapping[str, int]], rankings: Mapping[str, Sequence[str]]
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean metrics over every judged query, and the per-query values.

    ``rankings`` maps a query id to its documents best first; ranks (not raw scores, which can
    tie) decide the order ir-measures sees.
    """
    judged = {q: dict(docs) for q, docs in qrels.items() if any(g > 0 for g in docs.values())}
    if not judged:
        return {name: 0.0 for name in MEASURES}, {}
    qrel_rows = [
        ir_measures.Qrel(query_id, doc_id, grade)
        for query_id, docs in judged.items()
        for doc_id, grade in docs.items()
    ]
    run_rows = [
        ScoredDoc(query_id, doc_id, float(len(docs) - rank))
        for query_id, docs in rankings.items()
        if query_id in judged
        for rank, doc_id in enumerate(dict.fromkeys(docs))
    ]
    by_name = {str(measure): name for name, measure in MEASURES.items()}
    per_query: dict[str, dict[str, float]] = {q: dict.fromkeys(MEASURES, 0.0) for q in judged}
    for metric in ir_measures.iter_calc(list(MEASURES.values()), qrel_rows, run_rows):
        per_query[metric.query_id][by_name[str(metric.measure)]] = float(metric.value)
    means = {
        name: float(np.mean([values[name] for values in per_query.values()])) for name in MEASURES
    }
    return means, per_query


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float]:
    if not latencies_ms:
        return {"p50": 0.0, "p95": 0.0, "mean": 0.0, "max": 0.0}
    values = np.asarray(latencies_ms, dtype=float)
    return {
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "mean": float(values.mean()),
        "max": float(values.max()),
    }
