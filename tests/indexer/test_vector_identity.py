"""Switching the embedding variant: int8 vectors never mix with float ones in one index.

torch and ONNX Runtime float embed the same vectors, so switching between them re-embeds
nothing; switching int8 on or off re-embeds every document the next full run reads. The
hashing embedder stands in for the model: what is under test is which documents are embedded
again, not the vectors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.run_types import RunType
from indexer.settings import EmbeddingSettings
from permindex.config import PermindexConfig
from permindex.runtime import open_runtime
from schedules import commands

SOURCE = "docs"
DOCUMENTS = 6


def _config(tmp_path: Path, embedding: dict[str, str]) -> PermindexConfig:
    return PermindexConfig.model_validate(
        {
            "tenant": "acme",
            "org": {"domains": ["example.com"]},
            "index": {"embedded": {"path": str(tmp_path / "index.sqlite")}},
            "embedding": {"model": "hashing:16", **embedding},
            "sources": [{"type": "folder", "id": SOURCE, "path": str(tmp_path / "corpus")}],
        }
    )


def _full_sync(tmp_path: Path, **embedding: str) -> tuple[int, int, int]:
    """(documents rewritten, unchanged, chunks embedded) of one full run with ``embedding``."""
    return _sync(tmp_path, RunType.full, **embedding)


def _sync(tmp_path: Path, run_type: RunType, **embedding: str) -> tuple[int, int, int]:
    with open_runtime(_config(tmp_path, embedding)) as runtime:
        record = commands.sync(runtime, SOURCE, run_type)
    assert record.status == "succeeded", record.message
    counts = record.counts
    return counts.created + counts.updated, counts.unchanged, counts.chunks_embedded


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / ".permindex-acl.yaml").write_text("allow: [user:alice@example.com]\n")
    for i in range(DOCUMENTS):
        (root / f"note{i}.md").write_text(f"# Note {i}\n\nThe rollout plan number {i}.\n")
    return root


def test_switching_int8_re_embeds_every_document_and_torch_auto_none(
    tmp_path: Path, corpus: Path
) -> None:
    written, _, chunks = _full_sync(tmp_path)  # backend: auto, float
    assert written == DOCUMENTS and chunks >= DOCUMENTS

    # The same vectors on another runtime: nothing is embedded again.
    assert _full_sync(tmp_path, backend="torch") == (0, DOCUMENTS, 0)
    assert _full_sync(tmp_path, backend="onnx") == (0, DOCUMENTS, 0)

    # int8 embeds other vectors: every unchanged document is embedded again, then left alone.
    assert _full_sync(tmp_path, backend="onnx", quantization="int8") == (DOCUMENTS, 0, chunks)
    assert _full_sync(tmp_path, backend="onnx", quantization="int8") == (0, DOCUMENTS, 0)

    # And back to float.
    assert _full_sync(tmp_path, backend="auto") == (DOCUMENTS, 0, chunks)


def test_an_incremental_run_after_switching_int8_re_embeds_every_document(
    tmp_path: Path, corpus: Path
) -> None:
    # An incremental run reads only what changed: without looking at the vectors behind its
    # cursor it would leave every unchanged document on the old ones.
    written, _, chunks = _sync(tmp_path, RunType.full)
    assert written == DOCUMENTS

    def embedded(run_type: RunType, **embedding: str) -> tuple[int, int]:
        rewritten, _, chunks_embedded = _sync(tmp_path, run_type, **embedding)
        return rewritten, chunks_embedded

    assert embedded(RunType.incremental) == (0, 0)
    int8 = {"backend": "onnx", "quantization": "int8"}
    # A permissions run in between moves its own cursor, not the vectors' record.
    assert embedded(RunType.permissions, **int8) == (0, 0)
    assert embedded(RunType.incremental, **int8) == (DOCUMENTS, chunks)
    assert embedded(RunType.incremental, **int8) == (0, 0)
    assert embedded(RunType.incremental, backend="torch") == (DOCUMENTS, chunks)
    # The same vectors on another runtime: the cursor stays valid.
    assert embedded(RunType.incremental, backend="auto") == (0, 0)


def test_float_variants_keep_the_model_name_as_their_identity() -> None:
    # Indexes fingerprinted with the bare model name before int8 existed stay as they are.
    for backend in ("auto", "torch", "onnx"):
        assert EmbeddingSettings(backend=backend).vector_identity == "all-MiniLM-L6-v2"
    int8 = EmbeddingSettings(backend="onnx", quantization="int8")
    assert int8.vector_identity != "all-MiniLM-L6-v2"
    other = int8.model_copy(update={"model": "other"})
    assert other.vector_identity != int8.vector_identity


class _FloatWorkerReply:
    """What a Celery result holds when an embedding worker running float vectors answers."""

    def get(self, **_: object) -> dict[str, object]:
        return {"model": "hashing:16", "vectors": [[0.0] * 16]}

    def forget(self) -> None:
        return None


class _Celery:
    def send_task(self, *_: object, **__: object) -> _FloatWorkerReply:
        return _FloatWorkerReply()


def test_an_int8_deployment_refuses_vectors_from_a_float_embedding_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from permindex import cli
    from schedules import celery_app
    from schedules.embedding_queue import EmbeddingUnavailableError

    config = _config(tmp_path, {"backend": "onnx", "quantization": "int8"})
    config = config.model_copy(
        update={"queue": config.queue.model_copy(update={"embedding_queue": "embed"})}
    )
    monkeypatch.setattr(celery_app, "app", _Celery())
    embedder = cli._queued_embedder(config)
    assert embedder is not None
    with pytest.raises(EmbeddingUnavailableError, match="onnx-int8"):
        embedder.embed_query("a query")
