"""Export a sentence-transformers model to ONNX once, and quantise it, into the export cache.

Exportable: a Transformer module whose forward takes ``input_ids``/``attention_mask``
(``token_type_ids`` when its tokenizer makes them), a fast tokenizer, mean pooling, and at most a
Normalize module after it (the ONNX embedder always normalises, like the torch one). Anything
else fails with ``OnnxExportError`` naming what is unsupported; such a model runs on
``backend: torch``. The export is checked against the torch model before it is kept.

A BERT model's graph is then rewritten by ONNX Runtime's offline transformer fusion (one
EmbedLayerNormalization, and per layer Attention, BiasGelu and SkipLayerNormalization in place
of the traced MatMul/Softmax/LayerNorm chains); the fused graph is what is verified and kept.
Any other architecture, a fusion that raises, or a fused graph that does not verify keeps the
unfused export, logged.
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
# Hugging Face model types whose traced graph ONNX Runtime's "bert" fusion rewrites (its
# pattern matcher is written against the BERT encoder layer). Other types export unfused.
FUSABLE_MODEL_TYPES = frozenset({"bert"})
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
    # The float graph runs ONNX Runtime's fused transformer ops (com.microsoft domain).
    fused: bool = False


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
            info = _read_info(folder)
            if info is None:
                raise OnnxExportError(f"export of {model_name!r} into {folder} did not verify")
            _quantise(folder / FLOAT_FILE, target, fused=info.fused)
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
    info = _read_info(folder)
    if info is None:
        return None
    return ExportedModel(folder=folder, onnx=target, tokenizer=folder / TOKENIZER_FILE, info=info)


def _read_info(folder: Path) -> ExportInfo | None:
    """The folder's export record, None if malformed or written by another exporter version."""
    try:
        info = ExportInfo.model_validate_json((folder / INFO_FILE).read_text(encoding="utf-8"))
    except ValueError:
        return None
    return info if info.exporter == EXPORTER_VERSION else None


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
        config = transformer.auto_model.config
        kept = _fused_if_verified(model, config, candidate, inputs, model_name)
        if kept is None:
            _verify(model, candidate, inputs, model_name)
            kept = candidate
        write_artifact(folder / FLOAT_FILE, lambda tmp: os.replace(kept, tmp))
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
        fused=kept != candidate,
    )
    write_artifact(folder / INFO_FILE, lambda tmp: write_text(tmp, info.model_dump_json()))


def _fused_if_verified(
    model: Any, config: Any, exported: Path, inputs: list[str], model_name: str
) -> Path | None:
    """The fused graph of ``exported``, next to it, if it verifies; None keeps the unfused one."""
    fused = exported.with_name("fused.onnx")
    if not _fuse(exported, fused, config, inputs, model_name):
        return None
    try:
        _verify(model, fused, inputs, model_name)
    except OnnxExportError as exc:
        log.warning("%s: keeping the unfused ONNX graph, the fused one failed: %s", model_name, exc)
        return None
    return fused


def _fuse(source: Path, target: Path, config: Any, inputs: list[str], model_name: str) -> bool:
    """Write ONNX Runtime's fused graph of ``source`` to ``target``; False if it cannot fuse.

    Python fusion only (opt_level 0): the saved graph stays free of the session's own
    hardware-specific rewrites, which ONNX Runtime applies again when it loads the file.
    """
    model_type = getattr(config, "model_type", None)
    if model_type not in FUSABLE_MODEL_TYPES:
        log.info(
            "%s: model type %r is not one ONNX Runtime's BERT fusion rewrites; exported unfused",
            model_name,
            model_type,
        )
        return False
    layers = int(config.num_hidden_layers)
    try:
        from onnxruntime.transformers.fusion_options import FusionOptions
        from onnxruntime.transformers.optimizer import optimize_model

        optimized = optimize_model(
            str(source), model_type="bert", num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size), optimization_options=FusionOptions("bert"),
            opt_level=0, use_gpu=False,
        )  # fmt: skip
        counts = optimized.get_fused_operator_statistics()
        graph_inputs = [value.name for value in optimized.model.graph.input]
        # Every layer's attention fused, or the graph is only partly rewritten: keep it unfused
        # rather than run a graph whose speed and int8 recipe were never measured.
        if counts.get("Attention", 0) != layers or sorted(graph_inputs) != sorted(inputs):
            log.warning(
                "%s: ONNX Runtime's fusion gave %s and inputs %s for %d layers; exported unfused",
                model_name,
                {op: n for op, n in counts.items() if n},
                graph_inputs,
                layers,
            )
            return False
        optimized.save_model_to_file(str(target))
    except Exception as exc:  # the optimizer's pattern matching fails in arbitrary ways
        log.warning("%s: ONNX Runtime's fusion failed (%r); exported unfused", model_name, exc)
        return False
    log.info("%s: fused ONNX graph: %s", model_name, {op: n for op, n in counts.items() if n})
    return True


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


def _quantise(float_path: Path, target: Path, *, fused: bool) -> None:
    """Per-channel int8 weights of the MatMuls only (and of a fused graph's Attention).

    Quantising every op (the default) moves vectors to a mean cosine of 0.94 to float; MatMul
    weights alone keep it above 0.99. An unfused graph goes through ONNX Runtime's
    pre-processing first, without its symbolic shape pass: it cannot complete on this graph and
    MatMul-only quantisation does not need it. A fused graph is quantised as it is (the
    pre-processing fails on it); shape inference does not type the outputs of the com.microsoft
    ops, so untyped tensors are declared float, which they are.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if fused:  # as export.json records it for this float graph
        import onnx

        def quantise_fused(tmp: Path) -> None:
            quantize_dynamic(
                str(float_path), str(tmp), per_channel=True, weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul", "Attention"],
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )  # fmt: skip

        write_artifact(target, quantise_fused)
        return

    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".quant-") as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)

        def quantise(tmp: Path) -> None:
            quantize_dynamic(
                str(prepared), str(tmp), per_channel=True, weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
            )  # fmt: skip

        write_artifact(target, quantise)
