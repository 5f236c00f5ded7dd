"""Embedding on its own queue: sync workers send chunk texts, embedding workers (GPU machines)
return vectors.

Off by default (``queue.embedding_queue`` unset): every sync worker embeds on its own CPU. When
set, ``permindex worker`` processes keep reading sources and writing the index, and
``permindex worker --embedding`` processes, started where the accelerator is, load the model and
answer ``permindex.embed`` tasks from that queue. Replies travel through the broker's Redis as
results (the only task with a result); each is removed once read.

A vector from another model would corrupt the index silently, so every reply names the model
that made it and the sender refuses a reply from any model but its configured one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeoutError

from indexer.embedding import Embedder
from schedules.celery_app import EMBED_TASK_NAME, app

log = logging.getLogger("permindex.schedules.embedding")


class EmbeddingUnavailableError(RuntimeError):
    """No embedding worker answered in time, or one answered with another model: the run stops
    without advancing its checkpoint, like any other failing system."""


_embedder: Embedder | None = None
_model_name: str | None = None


def serve_embeddings(embedder: Embedder, model_name: str) -> None:
    """Install the model this process answers ``permindex.embed`` tasks with."""
    global _embedder, _model_name
    _embedder, _model_name = embedder, model_name


@app.task(name=EMBED_TASK_NAME, ignore_result=False, acks_late=True, reject_on_worker_lost=True)
def embed_texts(texts: list[str], kind: str) -> dict[str, Any]:
    if _embedder is None or _model_name is None:
        raise RuntimeError("permindex.embed taken by a worker started without --embedding")
    if kind == "query":
        vectors = [_embedder.embed_query(text) for text in texts]
    else:
        vectors = _embedder.embed_documents(texts)
    return {"model": _model_name, "vectors": vectors}


class QueuedEmbedder:
    """An ``Embedder`` whose work is done by embedding workers on ``queue``."""

    def __init__(
        self, celery: Celery, queue: str, model_name: str, dimension: int, timeout_s: float
    ) -> None:
        self._celery = celery
        self._queue = queue
        self._model_name = model_name
        self._dimension = dimension
        self._timeout_s = timeout_s

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self._call(list(texts), "documents")

    def embed_query(self, text: str) -> list[float]:
        return self._call([text], "query")[0]

    def _call(self, texts: list[str], kind: str) -> list[list[float]]:
        result = self._celery.send_task(EMBED_TASK_NAME, args=[texts, kind], queue=self._queue)
        try:
            # Called from inside a sync task: the embedding runs in another process, on another
            # queue, so waiting here cannot deadlock this worker's pool.
            reply = result.get(timeout=self._timeout_s, disable_sync_subtasks=False)
        except CeleryTimeoutError as exc:
            raise EmbeddingUnavailableError(
                f"no embedding worker on queue {self._queue!r} answered within "
                f"{self._timeout_s:g} s (start one with `permindex worker --embedding`)"
            ) from exc
        finally:
            result.forget()
        if reply.get("model") != self._model_name:
            raise EmbeddingUnavailableError(
                f"an embedding worker on {self._queue!r} answered with model "
                f"{reply.get('model')!r}, but this deployment indexes with {self._model_name!r}"
            )
        vectors: list[list[float]] = reply["vectors"]
        if len(vectors) != len(texts) or any(len(v) != self._dimension for v in vectors):
            raise EmbeddingUnavailableError(
                f"an embedding worker returned vectors of the wrong shape for {len(texts)} texts"
            )
        return vectors
