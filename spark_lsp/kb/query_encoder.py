"""The query encoder: the same MiniLM, exported once to ONNX and run by onnxruntime.

A search embeds one short text, and on these CPUs PyTorch spends a third of that time in its
own overhead: onnxruntime gives the same vector (checked when the file is made) in ~60% of the
time, and a process that only searches never imports torch at all (the tokenizer comes from
the model's `tokenizer.json` through `tokenizers`).

The ONNX file is made from the packaged model on first use — nothing is downloaded — and kept
in Spark's cache directory (`$SPARK_CACHE_DIR`, else the user cache dir), keyed by the model,
the token limit and the exporting versions, written to a temporary name and renamed, so
concurrent processes and interrupted exports are harmless. Whenever something is missing or
fails (no onnxruntime or onnx, an export error, a vector that does not match PyTorch's), the
reason is logged once and `embed.embed_query` falls back to PyTorch: search never breaks for
want of a faster encoder. `SPARK_QUERY_ENCODER=torch` turns it off.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from spark_lsp.config import spark_cache_dir
from spark_lsp.kb.embed import model_path

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the exported graph changes
_PROBES = ("sort a dataframe by two columns, keeping ties in their original order",
           "torch.no_grad inference", "x",
           "a long question that runs past the token limit " * 40)
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _file_for(model: Path, max_tokens: int) -> Path:
    weights = model / "model.safetensors"
    stamp = f"{model}|{weights.stat().st_size if weights.exists() else 0}|{max_tokens}|" \
            f"{EXPORT_VERSION}"
    return spark_cache_dir() / f"minilm-query-{hashlib.sha256(stamp.encode()).hexdigest()[:16]}.onnx"


class OnnxQueryEncoder:
    """Unit-length MiniLM vectors of single texts, by onnxruntime."""

    def __init__(self, onnx_file: Path, model: Path, max_tokens: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        # no busy-waiting between runs: the threads would burn the core the editor needs
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_file), options,
                                            providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]

    def encode(self, text: str, max_tokens: int | None = None) -> np.ndarray:
        """The vector of `text`, cut to `max_tokens` tokens (default: the model's limit)."""
        enc = self.tokenizer.encode(text)
        feeds = {"input_ids": enc.ids, "attention_mask": enc.attention_mask,
                 "token_type_ids": enc.type_ids}
        if max_tokens is not None and len(enc.ids) > max_tokens >= 2:
            # as the tokenizer truncates: keep [CLS] and the first tokens, end with [SEP]
            feeds = {k: v[:max_tokens - 1] + v[-1:] for k, v in feeds.items()}
        out = self.session.run(None, {name: np.asarray([feeds[name]], dtype=np.int64)
                                      for name in self.names})[0][0]
        return np.asarray(out, dtype=np.float32)


def export(model: Any, target: Path) -> None:
    """Write the SentenceTransformer's encoder + mean pooling + normalisation as ONNX."""
    import torch

    bert = model[0].auto_model.eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1)

    sample = model.tokenizer(["a query"], return_tensors="pt")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        import warnings

        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(Pooled(), tuple(sample[k] for k in _INPUTS), str(tmp),
                              input_names=list(_INPUTS), output_names=["embedding"],
                              dynamic_axes={k: {0: "batch", 1: "tokens"} for k in _INPUTS},
                              opset_version=17, dynamo=False)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


_encoder: OnnxQueryEncoder | None = None
_failed: str | None = None
_lock = threading.Lock()


def onnx_encoder(max_tokens: int) -> OnnxQueryEncoder | None:
    """The process's ONNX query encoder, made on first use; None (reason logged once) when it
    cannot be had."""
    global _encoder, _failed
    if _encoder is not None or _failed is not None:
        return _encoder
    with _lock:
        if _encoder is not None or _failed is not None:
            return _encoder
        try:
            _encoder = _make(max_tokens)
        except Exception as exc:  # noqa: BLE001 - any failure means: use PyTorch
            _failed = f"{type(exc).__name__}: {exc}"
            log.info("query embeddings by PyTorch (no ONNX encoder: %s)", _failed)
    return _encoder


def _make(max_tokens: int) -> OnnxQueryEncoder:
    if os.environ.get("SPARK_QUERY_ENCODER", "").lower() == "torch":
        raise RuntimeError("turned off by SPARK_QUERY_ENCODER=torch")
    import onnxruntime  # noqa: F401 - missing: fall back, before any export work

    model = model_path()  # ModelUnavailable: fall back like any other failure
    target = _file_for(model, max_tokens)
    if target.exists():
        try:
            return OnnxQueryEncoder(target, model, max_tokens)
        except Exception as exc:  # noqa: BLE001 - a damaged file: make it again
            log.warning("the ONNX query encoder %s cannot be loaded (%s); making it again",
                        target, exc)
            target.unlink(missing_ok=True)
    from spark_lsp.kb.embed import embed_texts, load_model

    export(load_model(), target)
    encoder = OnnxQueryEncoder(target, model, max_tokens)
    reference = embed_texts(list(_PROBES))
    for text, expected in zip(_PROBES, reference, strict=True):
        similarity = float(np.dot(encoder.encode(text), expected))
        if similarity < 0.9999:
            target.unlink(missing_ok=True)
            raise RuntimeError(f"the exported encoder disagrees with PyTorch on {text!r} "
                               f"(cosine {similarity:.5f})")
    log.info("ONNX query encoder written to %s", target)
    return encoder
