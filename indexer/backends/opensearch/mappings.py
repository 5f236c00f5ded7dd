"""Index names and mappings of the OpenSearch backend (schema version ``SCHEMA_VERSION``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from indexer.backend import SCHEMA_VERSION
from indexer.settings import OpenSearchSettings

# OpenSearch refuses _id values over 512 bytes; external ids may be up to 1024 characters.
_MAX_ID_BYTES = 480


@dataclass(frozen=True)
class IndexNames:
    """Aliases the code reads and writes through, and the state/directory indices."""

    prefix: str

    @property
    def chunks(self) -> str:
        return f"{self.prefix}-chunks"

    @property
    def documents(self) -> str:
        return f"{self.prefix}-documents"

    @property
    def state(self) -> str:
        return f"{self.prefix}-state"

    @property
    def runs(self) -> str:
        return f"{self.prefix}-runs"

    @property
    def directory(self) -> str:
        return f"{self.prefix}-directory"

    def versioned(self, alias: str, generation: int) -> str:
        """The concrete index behind ``alias``: rebuilt indices get the next generation."""
        return f"{alias}-v{SCHEMA_VERSION}-{generation}"


def doc_key(doc_id: str) -> str:
    """The _id of a document's record; long ids are hashed to fit OpenSearch's limit."""
    if len(doc_id.encode()) <= _MAX_ID_BYTES:
        return doc_id
    return "sha256:" + hashlib.sha256(doc_id.encode()).hexdigest()


def chunk_key(doc_id: str, chunk_index: int) -> str:
    return f"{doc_key(doc_id)}#{chunk_index}"


def _single_shard() -> dict[str, Any]:
    return {"number_of_shards": 1, "number_of_replicas": 0, "auto_expand_replicas": "0-1"}


# The analyzer named "porter" is defined by the backend: the same analysis as the embedded index's
# FTS5 tokenizer ('porter unicode61 remove_diacritics 2'), so both backends match "services" to
# "service" and split "IL-6", "0.5" or "U.S." into the same tokens. Like unicode61, the tokenizer
# keeps runs of letters and digits and separates on everything else. Queries drop repeated words
# before stemming, as the embedded backend's query does, so a word typed twice counts once. It
# needs the analysis-common module (in the 3.6 integ-test zip and the official image); any
# analyzer the node knows ("standard", "english", ...) can be named instead.
UNICODE61_TOKENIZER = {"type": "pattern", "pattern": r"[^\p{L}\p{N}]+"}
PORTER_ANALYZER = {
    "type": "custom",
    "tokenizer": "permindex_unicode61",
    "filter": ["lowercase", "asciifolding", "porter_stem"],
}
PORTER_SEARCH_ANALYZER = {
    "type": "custom",
    "tokenizer": "permindex_unicode61",
    "filter": ["lowercase", "asciifolding", "unique", "porter_stem"],
}


def text_field(analyzer: str) -> dict[str, Any]:
    if analyzer == "porter":
        return {"type": "text", "analyzer": "porter", "search_analyzer": "porter_search"}
    return {"type": "text", "analyzer": analyzer}


def chunks_body(settings: OpenSearchSettings, dimension: int) -> dict[str, Any]:
    text = text_field(settings.analyzer)
    index_settings: dict[str, Any] = {**_single_shard(), "knn": True}
    if settings.analyzer == "porter":
        index_settings["analysis"] = {
            "tokenizer": {"permindex_unicode61": UNICODE61_TOKENIZER},
            "analyzer": {"porter": PORTER_ANALYZER, "porter_search": PORTER_SEARCH_ANALYZER},
        }
    return {
        "settings": {"index": index_settings},
        "mappings": {
            "_meta": {"schema_version": SCHEMA_VERSION, "dimension": dimension},
            "dynamic": "strict",
            "properties": {
                "doc_id": {"type": "keyword"},
                "source_id": {"type": "keyword"},
                "external_id": {"type": "keyword"},
                "chunk_index": {"type": "integer"},
                "doc_type": {"type": "keyword"},
                "content_type": {"type": "keyword"},
                "title": text,
                "body": text,
                "url": {"type": "keyword", "index": False},
                "author": {"type": "keyword"},
                "breadcrumbs": {"type": "keyword"},
                "created_at": {"type": "date"},
                "updated_at": {"type": "date"},
                # Kept as written and returned, never parsed: keys are the source's, so mapping
                # them would grow the mapping without bound (and clash on types).
                "metadata": {"type": "object", "enabled": False},
                # What metadata filters match: one term per (key, value), see metadata_term.
                "metadata_terms": {"type": "keyword"},
                "acl": {"type": "keyword"},
                "vector": {
                    "type": "knn_vector",
                    "dimension": dimension,
                    # The k-NN zip from Maven Central has no native libraries, so the engine
                    # must be Lucene (faiss is the default). Vectors are L2-normalised, so
                    # inner product equals cosine similarity.
                    "method": {
                        "name": "hnsw",
                        "engine": "lucene",
                        "space_type": "innerproduct",
                        "parameters": {
                            "m": settings.hnsw_m,
                            "ef_construction": settings.hnsw_ef_construction,
                        },
                    },
                },
            },
        },
    }


def documents_body() -> dict[str, Any]:
    """One record per document: fingerprints and chunk bookkeeping (never searched by users)."""
    return {
        "settings": {"index": _single_shard()},
        "mappings": {
            "_meta": {"schema_version": SCHEMA_VERSION},
            "dynamic": "strict",
            "properties": {
                "doc_id": {"type": "keyword"},
                "source_id": {"type": "keyword"},
                "external_id": {"type": "keyword"},
                "content_fingerprint": {"type": "keyword"},
                "acl_fingerprint": {"type": "keyword"},
                "fields_fingerprint": {"type": "keyword"},
                "source_version": {"type": "keyword", "index": False},
                "indexed_at": {"type": "date"},
                # Chunks the document has now, and the most it may have had since (a write
                # interrupted between requests can leave more): stale chunks are deleted up to
                # the high-water mark.
                "chunk_count": {"type": "integer"},
                "chunk_hwm": {"type": "integer"},
                "committed": {"type": "boolean"},
            },
        },
    }


def state_body() -> dict[str, Any]:
    return {
        "settings": {"index": _single_shard()},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "source_id": {"type": "keyword"},
                "lease": {"type": "object", "enabled": False},
                "checkpoint": {"type": "object", "enabled": False},
            },
        },
    }


def runs_body() -> dict[str, Any]:
    return {
        "settings": {"index": _single_shard()},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "run_id": {"type": "keyword"},
                "source_id": {"type": "keyword"},
                "started_at": {"type": "date"},
                "first_saved_ns": {"type": "long"},
                "record": {"type": "object", "enabled": False},
            },
        },
    }


def directory_body() -> dict[str, Any]:
    return {
        "settings": {"index": _single_shard()},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                # member | identity | pointer
                "kind": {"type": "keyword"},
                "source_id": {"type": "keyword"},
                "generation": {"type": "keyword"},
                "group": {"type": "keyword"},
                "member": {"type": "keyword"},
                "account": {"type": "keyword"},
                "email": {"type": "keyword"},
            },
        },
    }
