"""Sentence embeddings on ONNX Runtime: the exported model, its Rust tokenizer, mean pooling.

Texts of one call are sorted by token count and batched in that order, so a batch pads to the
length of texts like its own rather than to the longest of the call (SciFact chunks: padded
tokens fall from about 1.5x to 1.03x the real ones). Vectors come back in the caller's order,
normalised like the torch embedder's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.embedding_onnx_cache import default_cache_dir
from indexer.embedding_onnx_export import ExportedModel, ensure_exported
from indexer.settings import EmbeddingSettings


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indexes of the texts, longest first, cut into batches of ``batch_size``."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[at : at + batch_size] for at in range(0, len(order), batch_size)]


def padded_tokens(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> int:
    """Tokens the model computes for ``batches``: each batch padded to its longest text."""
    return sum(len(batch) * max(lengths[i] for i in batch) for batch in batches if batch)


class OnnxEmbedder:
    """The ``backend: onnx`` embedder; exported into the cache on first use, reused after."""

    def __init__(self, settings: EmbeddingSettings, model_path: str | None = None) -> None:
        if settings.device != "cpu":
            raise ValueError(
                f"backend onnx runs on the CPU; device {settings.device!r} needs backend torch"
            )
        self.settings = settings
        self._model_path = model_path or settings.model

    @cached_property
    def exported(self) -> ExportedModel:
        return ensure_exported(
            self.settings.model,
            self._model_path,
            self.settings.onnx_cache_dir or default_cache_dir(),
            self.settings.quantization,
        )

    @cached_property
    def _session(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One graph, one request at a time: all cores inside each op, none idling between ops.
        options.intra_op_num_threads = self.settings.threads or usable_cores()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(
            str(self.exported.onnx), options, providers=["CPUExecutionProvider"]
        )

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.exported.tokenizer))
        tokenizer.enable_truncation(max_length=self.exported.info.max_seq_length)
        tokenizer.no_padding()
        return tokenizer

    @property
    def dimension(self) -> int:
        return self.exported.info.dimension

    def tokenize(self, texts: Sequence[str]) -> list[Any]:
        return list(self._tokenizer.encode_batch(list(texts)))

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors: list[list[float]] = self.embed_array(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def embed_array(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        encodings = self.tokenize(texts)
        lengths = [len(e.ids) for e in encodings]
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for batch in length_sorted_batches(lengths, self.settings.batch_size):
            vectors[batch] = self._run([encodings[i] for i in batch])
        return vectors

    def _run(self, encodings: Sequence[Any]) -> npt.NDArray[np.float32]:
        info = self.exported.info
        width = max(len(e.ids) for e in encodings)
        feed = {name: np.zeros((len(encodings), width), dtype=np.int64) for name in info.inputs}
        feed["input_ids"].fill(info.pad_id)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            feed["input_ids"][row, :n] = encoding.ids
            feed["attention_mask"][row, :n] = 1
            if "token_type_ids" in feed:
                feed["token_type_ids"][row, :n] = encoding.type_ids
        pooled = np.asarray(self._session.run(None, feed)[0], dtype=np.float32)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)
