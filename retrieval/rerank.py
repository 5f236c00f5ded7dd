"""Optional rerank stage: a sentence-transformers CrossEncoder scores (query, passage) pairs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from typing import Any, Protocol

from indexer.embedding import resolve_model_path
from indexer.records import Hit
from retrieval.settings import RetrievalSettings


class Reranker(Protocol):
    name: str

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One relevance score per passage; higher is better."""


class CrossEncoderReranker:
    """Any CrossEncoder by hub name (already cached) or local path, loaded on first use."""

    def __init__(self, model: str, *, device: str = "cpu", batch_size: int = 32) -> None:
        self.name = model
        self.device = device
        self.batch_size = batch_size

    @cached_property
    def _model(self) -> Any:
        # Same rule as the embedder: models come from disk, never from a hub at query time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import CrossEncoder

        return CrossEncoder(resolve_model_path(self.name), device=self.device)

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        scores = self._model.predict(
            [(query, passage) for passage in passages],
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return [float(s) for s in scores.reshape(len(passages), -1)[:, 0]]


def rerank_passage(hit: Hit) -> str:
    """What the cross-encoder reads: the title matters, unless the chunk already starts with it."""
    return (
        hit.text if not hit.title or hit.text.startswith(hit.title) else f"{hit.title}\n{hit.text}"
    )


def open_reranker(settings: RetrievalSettings) -> Reranker | None:
    if settings.rerank_model is None:
        return None
    return CrossEncoderReranker(
        settings.rerank_model, device=settings.rerank_device, batch_size=settings.rerank_batch_size
    )
