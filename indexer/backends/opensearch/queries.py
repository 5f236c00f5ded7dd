"""Query bodies of the OpenSearch backend and the mapping of hits back to records.

The ACL is a ``terms`` filter on the ``acl`` keyword field: a chunk with an empty ACL has no
term and can never match, so fail-closed needs no special case. It sits in the ``bool.filter``
of the BM25 query and *inside* the ``knn`` clause, so the Lucene engine filters before it picks
the k nearest: k permitted chunks come back even when most of the index is forbidden.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from connectors.documents import MetadataValue
from indexer.records import Hit, SearchFilters, metadata_pairs

TITLE_BOOST = 2.0
HIGHLIGHT_FRAGMENT_CHARS = 160
SOURCE_FIELDS = [
    "doc_id",
    "source_id",
    "external_id",
    "chunk_index",
    "doc_type",
    "content_type",
    "title",
    "body",
    "url",
    "author",
    "breadcrumbs",
    "created_at",
    "updated_at",
    "metadata",
    "acl",
]


def unit_vector(vector: Sequence[float], dimension: int | None = None) -> list[float]:
    """A finite, L2-normalised copy of ``vector``; ValueError for one the index cannot hold."""
    array = np.asarray(vector, dtype=np.float64)
    if array.ndim != 1 or (dimension is not None and array.shape[0] != dimension):
        raise ValueError(f"vector has {array.size} dimensions, the index expects {dimension}")
    if not np.all(np.isfinite(array)):
        raise ValueError("vector contains NaN or infinite values")
    norm = float(np.linalg.norm(array))
    if norm == 0.0:
        raise ValueError("vector is all zeros")
    return [float(x) for x in array / norm]


def _iso(value: datetime) -> str:
    # Naive bounds are read as UTC, as in the embedded backend.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def permitted_filter(principals: frozenset[str], filters: SearchFilters) -> list[dict[str, Any]]:
    """Filter clauses admitting only chunks the caller may see and the filters select."""
    clauses: list[dict[str, Any]] = [{"terms": {"acl": sorted(principals)}}]
    if filters.sources is not None:
        clauses.append({"terms": {"source_id": sorted(filters.sources)}})
    if filters.doc_types is not None:
        clauses.append({"terms": {"doc_type": sorted(filters.doc_types)}})
    bounds: dict[str, str] = {}
    if filters.updated_after is not None:
        bounds["gte"] = _iso(filters.updated_after)
    if filters.updated_before is not None:
        bounds["lte"] = _iso(filters.updated_before)
    if bounds:
        clauses.append({"range": {"updated_at": bounds}})
    # A terms clause per key: keys AND (each is a filter clause), values OR.
    for key, values in sorted((filters.metadata or {}).items()):
        clauses.append(
            {"terms": {"metadata_terms": [metadata_term(key, value) for value in sorted(values)]}}
        )
    return clauses


def metadata_term(key: str, value: str) -> str:
    """The indexed term of one (key, value) pair: a JSON pair, so no key or value containing a
    separator can pass for another pair (``a=b`` + ``c`` would equal ``a`` + ``b=c``)."""
    return json.dumps([key, value], ensure_ascii=False, separators=(",", ":"))


def metadata_terms(metadata: Mapping[str, MetadataValue]) -> list[str]:
    return [metadata_term(key, value) for key, value in metadata_pairs(metadata)]


_QUERY_SEPARATORS = str.maketrans({"\x00": " ", ":": " ", "\uff1a": " ", "\ufe55": " "})


def keyword_body(
    query: str,
    principals: frozenset[str],
    filters: SearchFilters,
    k: int,
    *,
    highlight: bool = True,
) -> dict[str, Any]:
    # `match` analyses the text as plain words: user syntax (quotes, AND, field:) is never
    # interpreted, unlike query_string.
    # The standard tokenizer keeps "title:revenue" as one token (a colon joins letters in
    # UAX#29), so a field-like prefix would hide the word; a colon never carries meaning here.
    text = query.translate(_QUERY_SEPARATORS)
    body: dict[str, Any] = {
        "size": k,
        "_source": SOURCE_FIELDS,
        # Nothing reads the total; counting it keeps Lucene from skipping blocks that cannot
        # reach the top k (docs/benchmarks.md, peer benchmark 2026-12-02 18:02).
        "track_total_hits": False,
        "query": {
            "bool": {
                # BM25F over title and body as one field, a title occurrence counting
                # TITLE_BOOST times: how FTS5's bm25() scores a row. Two `match` clauses summed
                # (a BM25 per field) let short titles dominate: SciFact train keyword nDCG@10
                # 0.621 against 0.701 (bench/keyword_quality.py).
                "must": [
                    {
                        "combined_fields": {
                            "query": text,
                            "fields": [f"title^{TITLE_BOOST:g}", "body"],
                            "operator": "or",
                        }
                    }
                ],
                "filter": permitted_filter(principals, filters),
            }
        },
    }
    if highlight:
        body["highlight"] = HIGHLIGHT
    return body


# Documents are untrusted and highlights are HTML: the node escapes the fragment text (an entity
# in the source comes back escaped once more), not the tags.
HIGHLIGHT: dict[str, Any] = {
    "encoder": "html",
    "pre_tags": ["<em>"],
    "post_tags": ["</em>"],
    "fields": {
        "body": {"fragment_size": HIGHLIGHT_FRAGMENT_CHARS, "number_of_fragments": 3},
        "title": {"number_of_fragments": 0},
    },
}


def highlight_body(
    query: str, chunk_ids: Sequence[str], principals: frozenset[str]
) -> dict[str, Any]:
    """The keyword query restricted to ``chunk_ids``, for their highlights only.

    The unified highlighter marks one document at a time from the query's terms (filters carry
    none), so a chunk gets the fragments it got in the keyword leg's response.
    """
    body = keyword_body(query, principals, SearchFilters(), len(chunk_ids))
    body["query"]["bool"]["filter"].append({"ids": {"values": list(chunk_ids)}})
    body["_source"] = False
    return body


def highlights_of(response: dict[str, Any]) -> dict[str, list[str]]:
    return {raw["_id"]: _fragments(raw) for raw in response["hits"]["hits"]}


def _fragments(raw: dict[str, Any]) -> list[str]:
    marked = raw.get("highlight", {})
    return list(marked.get("body", [])) or list(marked.get("title", []))


def knn_clause(
    vector: list[float], principals: frozenset[str], filters: SearchFilters, k: int
) -> dict[str, Any]:
    return {
        "knn": {
            "vector": {
                "vector": vector,
                "k": k,
                "filter": {"bool": {"filter": permitted_filter(principals, filters)}},
            }
        }
    }


def vector_body(
    vector: list[float], principals: frozenset[str], filters: SearchFilters, k: int
) -> dict[str, Any]:
    return {
        "size": k,
        "_source": SOURCE_FIELDS,
        "track_total_hits": False,
        "query": knn_clause(vector, principals, filters, k),
    }


def inner_product_from_score(score: float) -> float:
    """Undo Lucene's max-inner-product scaling so vector scores are cosine similarities.

    Lucene scores an inner product ``ip`` as ``ip + 1`` when ``ip >= 0`` and ``1 / (1 - ip)``
    otherwise; both backends report the similarity itself.
    """
    if score >= 1.0:
        return score - 1.0
    if score <= 0.0:
        return -math.inf
    return 1.0 - 1.0 / score


def hit_from_source(
    chunk_id: str, source: dict[str, Any], score: float, highlights: list[str]
) -> Hit:
    return Hit(
        chunk_id=chunk_id,
        doc_id=source["doc_id"],
        source_id=source["source_id"],
        external_id=source["external_id"],
        chunk_index=int(source["chunk_index"]),
        text=source.get("body") or "",
        title=source.get("title") or "",
        url=source.get("url"),
        author=source.get("author"),
        doc_type=source["doc_type"],
        content_type=source["content_type"],
        created_at=_optional_time(source.get("created_at")),
        updated_at=datetime.fromisoformat(source["updated_at"]),
        breadcrumbs=tuple(source.get("breadcrumbs") or ()),
        metadata=source.get("metadata") or {},
        acl=frozenset(source.get("acl") or ()),
        score=score,
        highlights=highlights,
    )


def _optional_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def keyword_hits(response: dict[str, Any]) -> list[Hit]:
    hits = []
    for raw in response["hits"]["hits"]:
        score = float(raw.get("_score") or 0.0)
        hits.append(hit_from_source(raw["_id"], raw["_source"], score, _fragments(raw)))
    return hits


def vector_hits(response: dict[str, Any]) -> list[Hit]:
    return [
        hit_from_source(
            raw["_id"], raw["_source"], inner_product_from_score(float(raw["_score"])), []
        )
        for raw in response["hits"]["hits"]
    ]


def chunk_source(
    write_fields: dict[str, Any], chunk_index: int, text: str, vector: list[float]
) -> dict[str, Any]:
    return {**write_fields, "chunk_index": chunk_index, "body": text, "vector": vector}
