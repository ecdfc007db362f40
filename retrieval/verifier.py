"""A cross-encoder verifier: reads a question and a case together and says how likely the case
answers the question.

Why: the policy (retrieval/decision.py) sees a question and a case only through hand-made
features, so a look-alike case (same machine, another fault) can score like a paraphrase. A
cross-encoder reads both texts at once. It is trained by ``scripts/train_verifier.py`` on the
labelled pairs the product stores, served here on ONNX Runtime int8 (no torch at run time), and
off unless a setting turns it on.

On disk like the index (retrieval/index.py): ``<verifier_dir>/versions/<version>/`` holds
``model_int8.onnx``, ``tokenizer.json`` and ``verifier.json`` (the manifest, written last);
``<verifier_dir>/current`` is a symlink replaced with one atomic rename, so a reader never sees
a half-copied model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.errors import IndexUnavailableError
from retrieval.corpus import CaseDoc
from retrieval.decision import NEVER
from retrieval.index import KEEP_VERSIONS, _prune, current_version, new_version
from retrieval.model import PASSAGE_PREFIX, QUERY_PREFIX

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

FORMAT = 1
MODEL_FILE = "model_int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "verifier.json"
FILES = (MODEL_FILE, TOKENIZER_FILE, MANIFEST_FILE)
DIRNAME = "verifier"  # under the service's data dir
ANSWER_CHARS = 160  # the start of an answer says which fault it treats; the rest is steps


def case_text(case: CaseDoc) -> str:
    """What the verifier reads of a case: title, question and the first part of the answer."""
    return f"{case.title}。{case.question}\n{case.answer[:ANSWER_CHARS]}"


@dataclass(frozen=True)
class VerifierManifest:
    """``verifier.json``: what the model was trained from and the thresholds fitted with it."""

    model_id: str  # the base model it was fine-tuned from
    trained_at: str
    max_length: int  # tokens of question + case text, as trained
    suggest_threshold: float  # placed on held-out labelled pairs; NEVER when they were too few
    confirm_threshold: float
    labels: dict[str, Any] = field(default_factory=dict)  # pair counts by source and answer
    evaluation: dict[str, Any] = field(default_factory=dict)  # held-out figures
    format: int = FORMAT

    @classmethod
    def read(cls, path: Path) -> VerifierManifest:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("expected a JSON object")
        manifest = cls(**raw)
        if not (0 <= manifest.confirm_threshold <= manifest.suggest_threshold <= NEVER):
            raise ValueError(f"thresholds must satisfy 0 <= confirm <= suggest <= {NEVER} (never)")
        if manifest.max_length < 8:
            raise ValueError(f"max_length {manifest.max_length} is too small")
        return manifest

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def open_tokenizer(path: Path, max_length: int) -> Tokenizer:
    """The pair tokenizer; training and serving both use it, so they cut texts the same way."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for a malformed file
        raise ValueError(f"{path.name}: {exc}") from exc
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length, strategy="longest_first")
    return tokenizer


def pair_batch(
    tokenizer: Tokenizer, pairs: list[tuple[str, str]], pad_id: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask) for (question, case text) pairs, padded to the longest row
    (XLM-R's pad id is 1)."""
    encodings = tokenizer.encode_batch(
        [(QUERY_PREFIX + question, PASSAGE_PREFIX + text) for question, text in pairs]
    )
    width = max(len(e.ids) for e in encodings)
    ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    return ids, mask


class Verifier:
    """One int8 cross-encoder on ONNX Runtime, one intra-op thread (a question's few pairs are
    small runs: a second thread would only compete with the other requests)."""

    def __init__(self, folder: Path, manifest: VerifierManifest):
        import onnxruntime as ort

        self.folder = folder
        self.manifest = manifest
        self._tokenizer = open_tokenizer(folder / TOKENIZER_FILE, manifest.max_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )

    @property
    def version(self) -> str:
        return self.folder.name

    @property
    def suggest_threshold(self) -> float:
        return self.manifest.suggest_threshold

    @property
    def confirm_threshold(self) -> float:
        return self.manifest.confirm_threshold

    def logits(self, question: str, case_texts: list[str]) -> np.ndarray:
        """Each pair runs alone: the int8 model takes its activation scales over the whole input,
        so in a batch a pair's score would depend on the cases read with it, and the thresholds
        fitted in training would not hold for the service's top candidates."""
        out = np.zeros(len(case_texts), dtype=np.float32)
        for row, text in enumerate(case_texts):
            ids, mask = pair_batch(self._tokenizer, [(question, text)])
            out[row] = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0].reshape(-1)[0]
        return out

    def probability(self, question: str, case_texts: list[str]) -> np.ndarray:
        """The probability that each case text answers ``question``."""
        return sigmoid(self.logits(question, case_texts))


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -500, 500)))


def _ort_errors() -> tuple[type[Exception], ...]:
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    return (state.Fail, state.InvalidProtobuf, state.InvalidGraph, state.NoSuchFile, state.InvalidArgument)


def load_verifier(path: Path) -> Verifier:
    """Load a verifier folder, or the version ``current`` points at in a verifier dir. Raises
    ``IndexUnavailableError`` saying what is wrong."""
    path = Path(path)
    folder = (path / "current").resolve() if (path / "current").is_symlink() else path
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise IndexUnavailableError(f"verifier at {folder} is incomplete: {', '.join(missing)} missing")
    try:
        manifest = VerifierManifest.read(folder / MANIFEST_FILE)
    except (OSError, ValueError, TypeError) as exc:
        raise IndexUnavailableError(f"verifier at {folder}: {MANIFEST_FILE} is unreadable: {exc}") from exc
    if manifest.format != FORMAT:
        raise IndexUnavailableError(f"verifier at {folder} has format {manifest.format}, not {FORMAT}")
    try:
        return Verifier(folder, manifest)
    except (OSError, ValueError) + _ort_errors() as exc:
        raise IndexUnavailableError(f"verifier at {folder} cannot be opened: {exc}") from exc


def save_verifier(source: Path, verifier_dir: Path) -> Path:
    """Copy a trained verifier folder into a new version of ``verifier_dir`` and point
    ``current`` at it atomically; older versions stay readable until pruned (the last
    ``KEEP_VERSIONS`` are kept). The source is loaded first, so a broken one is never served."""
    load_verifier(source)
    versions = verifier_dir / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    version = new_version(_sha256(source / MODEL_FILE))
    tmp = versions / f".{version}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name in FILES:  # the manifest last: a folder without one was never finished
        shutil.copy2(source / name, tmp / name)
    final = versions / version
    os.replace(tmp, final)
    link = verifier_dir / f".current.{os.getpid()}.tmp"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path("versions") / version)
    os.replace(link, verifier_dir / "current")
    _prune(versions, keep=version)
    log.info("verifier installed", extra={"version": version, "path": str(final), "kept": KEEP_VERSIONS})
    return final


def installed_version(verifier_dir: Path) -> str | None:
    """The version ``current`` points at, without loading anything (cheap to poll)."""
    return current_version(verifier_dir)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
