"""Export a sentence-transformers model to ONNX once, and quantise it, into the export cache.

Exportable: a Transformer module whose forward takes ``input_ids``/``attention_mask``
(``token_type_ids`` when its tokenizer makes them), a fast tokenizer, mean pooling, and at most a
Normalize module after it (the ONNX embedder always normalises, like the torch one). Anything
else fails with ``OnnxExportError`` naming what is unsupported; such a model runs on
``backend: torch``. The export is checked against the torch model before it is kept.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from indexer.embedding_onnx_cache import (
    EXPORTER_VERSION,
    cache_folder,
    export_lock,
    is_valid,
    write_artifact,
    write_text,
)

log = logging.getLogger(__name__)

Quantization = Literal["none", "int8"]
FLOAT_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
INFO_FILE = "export.json"
OPSET = 17
# The export must reproduce the torch vectors (it does to 1e-6); anything less is a bad export.
MIN_EXPORT_COSINE = 0.9999
_CHECK_TEXTS = (
    "Permission-aware hybrid search.",
    "A longer sentence, so that the check batch is padded and the attention mask matters.",
)


class OnnxExportError(RuntimeError):
    """The model cannot be exported for the ONNX backend (use ``backend: torch``)."""


class ExportInfo(BaseModel):
    model: str
    exporter: str
    dimension: int
    max_seq_length: int
    inputs: list[str]
    pad_id: int


class ExportedModel(BaseModel):
    folder: Path
    onnx: Path
    tokenizer: Path
    info: ExportInfo


def local_model_dir(name_or_path: str) -> Path:
    """A local folder for the model: a path, or a copy already in the Hugging Face cache."""
    if Path(name_or_path).is_dir():
        return Path(name_or_path).resolve()
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    for repo_id in (name_or_path, f"sentence-transformers/{name_or_path}"):
        try:
            return Path(snapshot_download(repo_id, local_files_only=True))
        except (LocalEntryNotFoundError, ValueError):
            continue
    raise OnnxExportError(
        f"model {name_or_path!r} is neither a folder nor in the local Hugging Face cache; "
        "the ONNX backend exports only local models (nothing is fetched from a hub)"
    )


def ensure_exported(
    model_name: str, model_path: str, cache_root: Path, quantization: Quantization
) -> ExportedModel:
    """The cached export of ``model_path`` for ``quantization``; exported first if absent."""
    model_dir = local_model_dir(model_path)
    folder = cache_folder(cache_root, model_name, model_dir)
    target = folder / (INT8_FILE if quantization == "int8" else FLOAT_FILE)
    exported = _cached(folder, target)
    if exported is not None:
        return exported
    with export_lock(folder):
        # Another process may have finished the export while this one waited for the lock.
        if not _base_valid(folder):
            log.info("exporting %s to ONNX once, into %s", model_name, folder)
            _export_float(model_name, model_dir, folder)
        if quantization == "int8" and not is_valid(target):
            log.info("quantising %s (int8 MatMul weights) into %s", model_name, target)
            _quantise(folder / FLOAT_FILE, target)
    exported = _cached(folder, target)
    if exported is None:
        raise OnnxExportError(f"export of {model_name!r} into {folder} did not verify")
    return exported


def _base_valid(folder: Path) -> bool:
    return all(is_valid(folder / name) for name in (FLOAT_FILE, TOKENIZER_FILE, INFO_FILE))


def _cached(folder: Path, target: Path) -> ExportedModel | None:
    # Only what this variant loads is verified (the float weights are not read for int8).
    if not all(is_valid(path) for path in (target, folder / TOKENIZER_FILE, folder / INFO_FILE)):
        return None
    try:
        info = ExportInfo.model_validate_json((folder / INFO_FILE).read_text(encoding="utf-8"))
    except ValueError:
        return None
    if info.exporter != EXPORTER_VERSION:
        return None
    return ExportedModel(folder=folder, onnx=target, tokenizer=folder / TOKENIZER_FILE, info=info)


def _pooling_mode(module: Any) -> str:
    mode = getattr(module, "pooling_mode", None)  # sentence-transformers >= 6
    if mode is None and hasattr(module, "get_pooling_mode_str"):
        mode = module.get_pooling_mode_str()
    return str(mode)


def _check_modules(model: Any, model_name: str) -> Any:
    # By class name: sentence-transformers moved these classes between major versions.
    modules = list(model)
    kinds = [type(m).__name__ for m in modules]
    unsupported = (
        f"model {model_name!r} ({', '.join(kinds)}) cannot run on the ONNX backend "
        "(set embedding.backend: torch)"
    )
    if len(modules) < 2 or kinds[0] != "Transformer":
        raise OnnxExportError(f"{unsupported}: it does not start with a Transformer module")
    mode = _pooling_mode(modules[1]) if kinds[1] == "Pooling" else kinds[1]
    if mode != "mean":
        raise OnnxExportError(f"{unsupported}: pooling is {mode!r}, only 'mean' is exported")
    if any(kind != "Normalize" for kind in kinds[2:]):
        raise OnnxExportError(f"{unsupported}: only Normalize may follow the pooling")
    if not getattr(model.tokenizer, "is_fast", False):
        raise OnnxExportError(f"{unsupported}: it has no fast (Rust) tokenizer")
    return modules[0]


def _export_float(model_name: str, model_dir: Path, folder: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Traced through the eager attention, not the SDPA default: SDPA's traced mask handling
    # (Where/IsNaN over every batch x head x token x token score) was a fifth of the int8
    # graph's time, and eager attention leaves the plain masked softmax that ONNX Runtime runs
    # fast. Same vectors (checked below against the model as loaded).
    model = SentenceTransformer(
        str(model_dir), device="cpu", model_kwargs={"attn_implementation": "eager"}
    )
    transformer = _check_modules(model, model_name)
    tokenizer = model.tokenizer
    inputs = [
        name
        for name in ("input_ids", "attention_mask", "token_type_ids")
        if name in tokenizer.model_input_names
    ]
    if inputs[:2] != ["input_ids", "attention_mask"]:
        raise OnnxExportError(f"model {model_name!r}: its tokenizer makes {inputs}")

    class MeanPooled(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, *tensors: Any) -> Any:
            named = dict(zip(inputs, tensors, strict=True))
            hidden = self.encoder(**named).last_hidden_state
            mask = named["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    wrapper = MeanPooled(transformer.auto_model).eval()
    # A padded example: traced with an all-ones mask, the encoder may drop the mask for good.
    sample = tokenizer(list(_CHECK_TEXTS), padding=True, return_tensors="pt")
    args = tuple(sample[name] for name in inputs)
    axes = {name: {0: "batch", 1: "sequence"} for name in inputs}

    def export(tmp: Path) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter about shapes baked as constants
            try:
                torch.onnx.export(
                    wrapper, args, str(tmp), input_names=inputs,
                    output_names=["sentence_embedding"],
                    dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
                    opset_version=OPSET, do_constant_folding=True, dynamo=False,
                )  # fmt: skip
            except Exception as exc:
                raise OnnxExportError(f"model {model_name!r}: ONNX export failed: {exc}") from exc

    with tempfile.TemporaryDirectory(dir=folder, prefix=".check-") as scratch:
        candidate = Path(scratch) / FLOAT_FILE
        export(candidate)
        _verify(model, candidate, inputs, model_name)
        write_artifact(folder / FLOAT_FILE, lambda tmp: os.replace(candidate, tmp))
    write_artifact(folder / TOKENIZER_FILE, lambda tmp: tokenizer.backend_tokenizer.save(str(tmp)))
    getter = getattr(model, "get_embedding_dimension", None)
    dimension = (getter or model.get_sentence_embedding_dimension)()
    info = ExportInfo(
        model=model_name,
        exporter=EXPORTER_VERSION,
        dimension=dimension,
        max_seq_length=model.max_seq_length,
        inputs=inputs,
        pad_id=int(tokenizer.pad_token_id or 0),
    )
    write_artifact(folder / INFO_FILE, lambda tmp: write_text(tmp, info.model_dump_json()))


def _verify(model: Any, onnx_path: Path, inputs: list[str], model_name: str) -> None:
    import onnxruntime as ort

    expected = model.encode(list(_CHECK_TEXTS), normalize_embeddings=True)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feed = model.tokenizer(list(_CHECK_TEXTS), padding=True, return_tensors="np")
    got = session.run(None, {name: feed[name].astype(np.int64) for name in inputs})[0]
    got = got / np.linalg.norm(got, axis=1, keepdims=True)
    cosine = float((got * expected).sum(axis=1).min())
    if cosine < MIN_EXPORT_COSINE:
        raise OnnxExportError(
            f"model {model_name!r}: the ONNX export does not reproduce the torch vectors "
            f"(cosine {cosine:.5f}); use backend: torch"
        )


def _quantise(float_path: Path, target: Path) -> None:
    """Per-channel int8 weights of the MatMuls only, after ONNX Runtime's pre-processing.

    Quantising every op (the default) moves vectors to a mean cosine of 0.94 to float; MatMul
    weights alone keep it above 0.99. The symbolic shape pass of the pre-processing is skipped:
    it cannot complete on this graph and MatMul-only quantisation does not need it.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".quant-") as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)

        def quantise(tmp: Path) -> None:
            quantize_dynamic(
                str(prepared), str(tmp), per_channel=True, weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
            )  # fmt: skip

        write_artifact(target, quantise)
