"""The ONNX Runtime embedder: same vectors as torch, one export reused, a damaged cache redone.

The packaged model is exported once per session (float and int8) into a temporary cache; it is
the slow part of these tests. The fusion tests use tiny random models (2 layers, 32 wide),
exported in about a second each.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

import indexer.embedding_onnx_export as export
from indexer.embedding import (
    DEFAULT_MODEL,
    SentenceTransformerEmbedder,
    make_embedder,
    resolve_model_path,
)
from indexer.embedding_onnx import OnnxEmbedder
from indexer.embedding_onnx_cache import is_valid
from indexer.embedding_onnx_export import FLOAT_FILE, INFO_FILE, INT8_FILE, OnnxExportError
from indexer.settings import EmbeddingSettings

pytestmark = pytest.mark.slow

# Chunk-sized texts like the ones the indexer embeds, of different lengths (so batches pad).
TEXTS = [
    "Quarterly revenue grew eight percent, driven by renewals in the enterprise segment; churn "
    "among small customers rose slightly and the board asked for a retention plan by March.",
    "To rotate the signing key, create the new key in the vault, deploy it to every service, "
    "wait one token lifetime, then revoke the old key. Never revoke first: sessions would fail.",
    "Ribosomal protein S6 kinase is activated by insulin through the mTOR pathway, and its "
    "inhibition in mice extends lifespan and protects against age-related metabolic disease.",
    "The on-call engineer acknowledges a page within five minutes, opens an incident channel, "
    "and posts an update every thirty minutes until the service level objective is met again.",
    "Minutes of the architecture review: the team agreed to keep the embedded index as the "
    "default, to run OpenSearch in production, and to measure query latency at one hundred "
    "thousand chunks before the next release. Open question: who owns the reindex runbook?",
    "Vacation requests go to your manager at least two weeks ahead.",
]


def settings(cache: Path, quantization: str = "none", **extra: object) -> EmbeddingSettings:
    return EmbeddingSettings.model_validate(
        {"backend": "onnx", "quantization": quantization, "onnx_cache_dir": cache, **extra}
    )


def onnx(cache: Path, quantization: str = "none") -> OnnxEmbedder:
    embedder = make_embedder(settings(cache, quantization))
    assert isinstance(embedder, OnnxEmbedder)
    return embedder


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("onnx-cache")
    onnx(cache, "int8").embed_query("export both variants once")
    return cache


@pytest.fixture(scope="session")
def torch_vectors(embedder: SentenceTransformerEmbedder) -> np.ndarray:
    return np.asarray(embedder.embed_documents(TEXTS))


def cosines(vectors: list[list[float]], reference: np.ndarray) -> np.ndarray:
    return np.sum(np.asarray(vectors) * reference, axis=1)


def test_float_vectors_are_the_torch_vectors(onnx_cache: Path, torch_vectors: np.ndarray) -> None:
    embedder = onnx(onnx_cache)
    assert embedder.dimension == torch_vectors.shape[1]
    assert cosines(embedder.embed_documents(TEXTS), torch_vectors).min() > 0.999
    # A query alone (no padding) gets the same vector as inside a padded batch.
    assert cosines([embedder.embed_query(TEXTS[-1])], torch_vectors[-1:])[0] > 0.999


def test_int8_vectors_stay_close_to_float(onnx_cache: Path, torch_vectors: np.ndarray) -> None:
    vectors = onnx(onnx_cache, "int8").embed_documents(TEXTS)
    assert cosines(vectors, torch_vectors).mean() > 0.99
    norms = np.linalg.norm(np.asarray(vectors), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)


def test_a_second_open_reuses_the_export(onnx_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_export(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("exported again although the cache is valid")

    monkeypatch.setattr(export, "_export_float", no_export)
    monkeypatch.setattr(export, "_quantise", no_export)
    for quantization in ("none", "int8"):
        embedder = onnx(onnx_cache, quantization)
        assert len(embedder.embed_query("reused")) == embedder.dimension


@pytest.mark.parametrize("damage", ["truncated", "same-size-corrupt", "no-sidecar"])
def test_a_damaged_export_is_detected_and_redone(
    onnx_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(onnx_cache, cache)
    (target,) = cache.glob(f"*/{INT8_FILE}")
    good = tmp_path / "good.onnx"
    shutil.copyfile(target, good)
    if damage == "truncated":  # what a copy or disk cut short leaves
        with target.open("r+b") as handle:
            handle.truncate(target.stat().st_size // 2)
    elif damage == "same-size-corrupt":
        with target.open("r+b") as handle:
            handle.seek(target.stat().st_size // 2)
            handle.write(b"\xff" * 64)
    else:
        target.with_name(target.name + ".sha256").unlink()
    assert not is_valid(target)

    redone: list[Path] = []

    def quantise_again(float_path: Path, path: Path, *, fused: bool) -> None:
        # Stands in for the real (slow) quantisation: writes through the same atomic path.
        redone.append(path)

        def copy_good(tmp: Path) -> None:
            shutil.copyfile(good, tmp)

        export.write_artifact(path, copy_good)

    monkeypatch.setattr(export, "_quantise", quantise_again)
    embedder = onnx(cache, "int8")
    assert len(embedder.embed_query("after repair")) == embedder.dimension
    assert redone == [target]
    assert is_valid(target)


def test_configuration_selects_the_backend(tmp_path: Path) -> None:
    assert isinstance(
        make_embedder(EmbeddingSettings(backend="torch")), SentenceTransformerEmbedder
    )
    assert isinstance(make_embedder(settings(tmp_path)), OnnxEmbedder)
    assert EmbeddingSettings().backend == "auto"
    assert EmbeddingSettings().variant == "onnx"
    assert EmbeddingSettings(backend="torch").variant == "torch"
    assert settings(tmp_path).variant == "onnx"
    assert settings(tmp_path, "int8").variant == "onnx-int8"
    for backend in ("torch", "auto"):
        # auto could fall back to torch, which does not embed int8's vectors.
        with pytest.raises(ValidationError, match="int8 needs backend: onnx"):
            EmbeddingSettings.model_validate({"backend": backend, "quantization": "int8"})
    with pytest.raises(ValidationError):
        EmbeddingSettings.model_validate({"backend": "tensorflow"})


def test_the_default_runs_on_onnx_with_the_torch_vectors(
    onnx_cache: Path, torch_vectors: np.ndarray
) -> None:
    embedder = make_embedder(EmbeddingSettings(onnx_cache_dir=onnx_cache))
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.settings.quantization == "none"
    assert cosines(embedder.embed_documents(TEXTS), torch_vectors).min() > 0.999


def test_the_default_falls_back_to_torch_where_the_export_cannot_be_written(
    tmp_path: Path, torch_vectors: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    # A cache under a regular file cannot be created, even by root: what a read-only image gives.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    embedder = make_embedder(EmbeddingSettings(onnx_cache_dir=blocker / "onnx"))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert "embedding on torch, not ONNX Runtime" in caplog.text
    assert cosines(embedder.embed_documents(TEXTS), torch_vectors).min() > 0.999
    # Asked for by name, ONNX Runtime is not silently replaced.
    with pytest.raises(OSError):
        make_embedder(settings(blocker / "onnx")).embed_query("never embedded")


def test_the_default_leaves_a_gpu_device_to_torch(tmp_path: Path) -> None:
    embedder = make_embedder(EmbeddingSettings(device="cuda", onnx_cache_dir=tmp_path))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert not any(tmp_path.iterdir())  # nothing was exported for it


def cls_pooled_model(folder: Path) -> Path:
    """The packaged model with CLS pooling instead of mean: a model this backend does not export."""
    packaged = Path(resolve_model_path(DEFAULT_MODEL))
    model = folder / "cls-model"
    for path in packaged.rglob("*"):
        if path.is_file():
            (model / path.relative_to(packaged)).parent.mkdir(parents=True, exist_ok=True)
            (model / path.relative_to(packaged)).symlink_to(path)
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.unlink()
    pooling.write_text(
        json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True})
    )
    return model


def test_a_model_onnx_cannot_run_fails_with_a_clear_error(tmp_path: Path) -> None:
    model = cls_pooled_model(tmp_path)
    embedder = make_embedder(settings(tmp_path / "cache", model=str(model)))
    with pytest.raises(OnnxExportError, match=r"backend: torch\).*pooling is 'cls'"):
        embedder.embed_query("never embedded")
    assert not list((tmp_path / "cache").glob("*/*.onnx"))


def test_the_default_runs_a_model_onnx_cannot_export_on_torch(
    tmp_path: Path, torch_vectors: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    model = cls_pooled_model(tmp_path)
    embedder = make_embedder(EmbeddingSettings(model=str(model), onnx_cache_dir=tmp_path / "cache"))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert "pooling is 'cls'" in caplog.text
    # The model as configured, CLS pooling included: not the mean-pooled packaged model.
    assert cosines([embedder.embed_query(TEXTS[0])], torch_vectors[:1])[0] < 0.999


def op_counts(path: Path) -> Counter[str]:
    import onnx

    return Counter(node.op_type for node in onnx.load(str(path)).graph.node)


def recorded_fused(cache: Path) -> bool:
    (info,) = cache.glob(f"*/{INFO_FILE}")
    return bool(json.loads(info.read_text())["fused"])


def test_the_default_export_runs_fused_transformer_ops(
    onnx_cache: Path, torch_vectors: np.ndarray
) -> None:
    (float_path,) = onnx_cache.glob(f"*/{FLOAT_FILE}")
    (int8_path,) = float_path.parent.glob(INT8_FILE)
    fused = op_counts(float_path)
    # all-MiniLM-L6-v2 has 6 layers: per layer one attention, one GELU, two residual norms.
    assert fused["EmbedLayerNormalization"] == 1
    assert (fused["Attention"], fused["BiasGelu"], fused["SkipLayerNormalization"]) == (6, 6, 12)
    assert fused["Softmax"] == 0  # no unfused attention left beside the fused one
    quantised = op_counts(int8_path)
    assert (quantised["QAttention"], quantised["SkipLayerNormalization"]) == (6, 12)
    assert recorded_fused(onnx_cache)
    assert cosines(onnx(onnx_cache).embed_documents(TEXTS), torch_vectors).min() > 0.999


def tiny_model(folder: Path, model_type: str) -> Path:
    """A random 2-layer model of ``model_type`` with the packaged model's tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModel

    packaged = Path(resolve_model_path(DEFAULT_MODEL))
    model = folder / f"tiny-{model_type}"
    (model / "1_Pooling").mkdir(parents=True)
    for name in ("vocab.txt", "tokenizer.json", "special_tokens_map.json"):
        shutil.copyfile(packaged / name, model / name)
    tokenizer = json.loads((packaged / "tokenizer_config.json").read_text())
    if model_type == "distilbert":  # it takes no token_type_ids
        tokenizer["model_input_names"] = ["input_ids", "attention_mask"]
    (model / "tokenizer_config.json").write_text(json.dumps(tokenizer))
    modules = [("", "Transformer"), ("1_Pooling", "Pooling")]
    (model / "modules.json").write_text(
        json.dumps(
            [
                {
                    "idx": i,
                    "name": str(i),
                    "path": path,
                    "type": f"sentence_transformers.models.{kind}",
                }
                for i, (path, kind) in enumerate(modules)
            ]
        )
    )
    pooling = {"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True}
    (model / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    # 4 heads, not the default model's 12: the fusion must take them from the config.
    sizes: dict[str, dict[str, int]] = {
        "bert": {
            "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2,
            "intermediate_size": 64,
        },
        "distilbert": {"dim": 32, "n_heads": 4, "n_layers": 2, "hidden_dim": 64},
    }  # fmt: skip
    torch.manual_seed(0)
    AutoModel.from_config(AutoConfig.for_model(model_type, **sizes[model_type])).save_pretrained(
        model
    )
    return model


def torch_reference(model: Path) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    loaded = SentenceTransformer(str(model), device="cpu")
    return np.asarray(loaded.encode(TEXTS, normalize_embeddings=True))


def fail_fusion(*_args: Any, **_kwargs: Any) -> None:
    raise RuntimeError("no fusion pattern matched")


@pytest.mark.parametrize(
    ("model_type", "optimizer_fails", "fused"),
    [("bert", False, True), ("bert", True, False), ("distilbert", False, False)],
    ids=["bert-fuses", "bert-fusion-raises", "distilbert-unknown-to-the-fusion"],
)
def test_a_model_exports_fused_where_it_can_and_unfused_otherwise(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    model_type: str,
    optimizer_fails: bool,
    fused: bool,
) -> None:
    import onnxruntime.transformers.optimizer

    model = tiny_model(tmp_path, model_type)
    if optimizer_fails:
        monkeypatch.setattr(onnxruntime.transformers.optimizer, "optimize_model", fail_fusion)
    cache = tmp_path / "cache"
    caplog.set_level("INFO", logger="indexer.embedding_onnx_export")
    embedder = make_embedder(settings(cache, model=str(model)))
    # Fused or not, the float export gives the torch vectors of the model as configured.
    assert cosines(embedder.embed_documents(TEXTS), torch_reference(model)).min() > 0.999
    (float_path,) = cache.glob(f"*/{FLOAT_FILE}")
    counts = op_counts(float_path)
    assert recorded_fused(cache) is fused
    assert (counts["Attention"], counts["SkipLayerNormalization"]) == ((2, 4) if fused else (0, 0))
    assert fused or "exported unfused" in caplog.text
    int8 = make_embedder(settings(cache, "int8", model=str(model)))
    assert np.allclose(np.linalg.norm(int8.embed_documents(TEXTS), axis=1), 1.0, atol=1e-5)
    assert op_counts(float_path.with_name(INT8_FILE))["QAttention"] == (2 if fused else 0)
