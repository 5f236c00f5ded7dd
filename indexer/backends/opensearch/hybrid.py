"""The neural-search plugin's ``hybrid`` query, fused on the node by a normalization pipeline.

Optional: used only when ``OpenSearchSettings.use_hybrid_query`` is set *and* the node has the
plugin. The default path (``hybrid_candidates``: both legs in one ``_msearch``, fused by
retrieval) needs k-NN only. Both sub-queries carry the same ACL filter as the single legs, the
kNN one inside its clause.
"""

from __future__ import annotations

from typing import Any

from indexer.backends.opensearch.client import Gateway
from indexer.backends.opensearch.queries import SOURCE_FIELDS, keyword_body, knn_clause
from indexer.records import SearchFilters

PLUGIN = "opensearch-neural-search"


def has_neural_search(gw: Gateway) -> bool:
    plugins = gw.call(gw.client.cat.plugins, format="json")
    return any(p.get("component") == PLUGIN for p in plugins)


def pipeline_name(prefix: str, keyword_weight: float) -> str:
    return f"{prefix}-hybrid-minmax-{round(keyword_weight * 100)}"


def ensure_pipeline(gw: Gateway, name: str, keyword_weight: float) -> None:
    """Min-max normalisation and a weighted arithmetic mean of (keyword, vector) scores."""
    weights = [keyword_weight, 1.0 - keyword_weight]
    gw.call(
        gw.client.transport.perform_request,
        "PUT",
        f"/_search/pipeline/{name}",
        body={
            "description": "permindex hybrid fusion",
            "phase_results_processors": [
                {
                    "normalization-processor": {
                        "normalization": {"technique": "min_max"},
                        "combination": {
                            "technique": "arithmetic_mean",
                            "parameters": {"weights": weights},
                        },
                    }
                }
            ],
        },
    )


def hybrid_body(
    query: str,
    vector: list[float],
    principals: frozenset[str],
    filters: SearchFilters,
    k: int,
) -> dict[str, Any]:
    keyword = keyword_body(query, principals, filters, k)
    return {
        "size": k,
        "_source": SOURCE_FIELDS,
        "query": {
            "hybrid": {"queries": [keyword["query"], knn_clause(vector, principals, filters, k)]}
        },
        "highlight": keyword["highlight"],
    }
