"""ONNX export (fp32) and dynamic int8 quantization of a sentence-transformers folder.

Why: ONNX Runtime serves the encoder far lighter and faster than torch on a
CPU; the verifier's export quantizes the same way.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.model import QUERY_PREFIX
from retrieval.model.folders import atomic_output_dir, check_target, write_marker
from retrieval.model.hf_folder import transformer_subdir

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

logger = logging.getLogger(__name__)

ONNX_REQUIRED = ("model.onnx", "tokenizer.json", "onnx_config.json")
ONNX_INT8 = "model_int8.onnx"


def _last_hidden_state_module(model: PreTrainedModel) -> torch.nn.Module:
    """Wrap an HF encoder as (input_ids, attention_mask) -> last_hidden_state for export."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: PreTrainedModel) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden: torch.Tensor = self.inner(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            return hidden

    return LastHiddenState(model).eval()


def export_onnx(st_dir: Path, out_dir: Path, quantize: bool = True) -> Path:
    """Export the transformer of `st_dir` to ONNX (fp32, plus dynamic int8 if `quantize`).

    Output folder: ``model.onnx`` (fp32), ``model_int8.onnx`` (weights QInt8,
    per channel), ``tokenizer.json`` and ``onnx_config.json``. The graph takes
    ``input_ids`` and ``attention_mask`` (int64, dynamic batch and sequence)
    and returns ``last_hidden_state``; pooling is done by the caller.
    Uses torch's legacy TorchScript exporter: the dynamo exporter needs
    onnxscript, which we do not install. Returns `out_dir`.
    """
    st_dir, out_dir = Path(st_dir), Path(out_dir)
    required = ONNX_REQUIRED + ((ONNX_INT8,) if quantize else ())
    if check_target(out_dir, "onnx", required):
        return out_dir
    started = time.perf_counter()
    hf_dir = transformer_subdir(st_dir)
    with atomic_output_dir(out_dir, "onnx") as tmp:
        dim, max_length, pad_id = _export_fp32(hf_dir, tmp / "model.onnx")
        if quantize:
            quantize_int8(tmp / "model.onnx", tmp / ONNX_INT8)
        shutil.copy2(hf_dir / "tokenizer.json", tmp / "tokenizer.json")
        config = {
            "dim": dim,
            "max_length": max_length,
            "pad_token_id": pad_id,
            "pooling": "mean",
            "normalize": True,
        }
        (tmp / "onnx_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        write_marker(tmp, "onnx", source=str(st_dir), quantized=quantize)
    logger.info("ONNX export finished in %.1f s", time.perf_counter() - started)
    return out_dir


def _export_fp32(hf_dir: Path, path: Path) -> tuple[int, int, int]:
    """Export to `path`; return (hidden size, max tokens, pad token id)."""
    import warnings

    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    t0 = time.perf_counter()
    model = AutoModel.from_pretrained(str(hf_dir), attn_implementation="eager")
    wrapper = _last_hidden_state_module(model)
    # two rows of different length so the padding path is traced
    tokenizer = Tokenizer.from_file(str(hf_dir / "tokenizer.json"))
    tokenizer.enable_padding(pad_id=model.config.pad_token_id or 0)
    sample = tokenizer.encode_batch([QUERY_PREFIX + "how to reset alarm SV0401", QUERY_PREFIX + "hello"])
    input_ids = torch.tensor([e.ids for e in sample], dtype=torch.long)
    attention_mask = torch.tensor([e.attention_mask for e in sample], dtype=torch.long)
    dynamic = {0: "batch", 1: "sequence"}
    logger.info("Exporting %s to ONNX (torch %s, legacy exporter)", hf_dir, torch.__version__)
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always")
        torch.onnx.export(
            wrapper,
            (input_ids, attention_mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "last_hidden_state": dynamic},
            opset_version=17,
            do_constant_folding=True,
            dynamo=False,
        )
    # expected: legacy-exporter DeprecationWarning and TracerWarnings on shape checks
    for w in caught:
        logger.debug("onnx export warning: %s: %s", w.category.__name__, w.message)
    logger.info(
        "Exported fp32 ONNX (%.0f MB) in %.1f s (%d exporter warnings, see DEBUG log)",
        path.stat().st_size / 1e6,
        time.perf_counter() - t0,
        len(caught),
    )
    max_length = int(model.config.max_position_embeddings)
    if model.config.model_type in ("xlm-roberta", "roberta", "camembert"):
        max_length -= int(model.config.pad_token_id) + 1  # positions start after padding_idx
    return int(model.config.hidden_size), min(max_length, 512), int(model.config.pad_token_id or 0)


def quantize_int8(src: Path, dst: Path) -> None:
    """Quantize the ONNX model `src` to `dst` with dynamic per-channel QInt8 weights."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    t0 = time.perf_counter()
    # per-channel QInt8 weights: cosine vs fp32 ~0.997 (per-tensor ~0.991), same speed
    with _demote_onnxruntime_root_logs():
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True)
    logger.info("Quantized to int8 (%.0f MB) in %.1f s", dst.stat().st_size / 1e6, time.perf_counter() - t0)


class _OnnxruntimeRootLogFilter(logging.Filter):
    """Re-log onnxruntime's root-logger chatter (~80 INFO lines per model) at DEBUG here."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "onnxruntime" in record.pathname and record.levelno < logging.ERROR:
            logger.debug("onnxruntime: %s", record.getMessage())
            return False
        return True


@contextlib.contextmanager
def _demote_onnxruntime_root_logs() -> Iterator[None]:
    root = logging.getLogger()
    log_filter = _OnnxruntimeRootLogFilter()
    root.addFilter(log_filter)
    try:
        yield
    finally:
        root.removeFilter(log_filter)
