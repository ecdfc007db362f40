"""A synthetic labelled set built from the demo knowledge, and a small verifier trained on it:
what the verifier tests and the tests of the service using a verifier share."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

os.environ["HF_HUB_OFFLINE"] = "1"  # tests must never reach the HF hub
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np

from retrieval.corpus import CaseDoc
from retrieval.encoder import Encoder
from retrieval.verifier_data import LabelledPair

if TYPE_CHECKING:
    from retrieval.verifier_training import FittedVerifier


def edited(question: str, rng: np.random.Generator) -> str:
    """A worker's retelling, roughly: a tenth of the characters dropped, a window of the rest."""
    kept = "".join(ch for ch in question if rng.random() > 0.1)
    start = int(rng.integers(0, len(kept) // 4 + 1))
    return kept[start : start + max(12, int(len(kept) * 0.75))]


def synthetic_pairs(cases: list[CaseDoc], seed: int, per_case: int) -> list[LabelledPair]:
    """Each edit of a case's question answered by its case and not by a random other case."""
    rng = np.random.default_rng(seed)
    pairs = []
    for i, case in enumerate(cases):
        for _ in range(per_case):
            question = edited(case.question, rng)
            other = cases[(i + 1 + int(rng.integers(0, len(cases) - 1))) % len(cases)]
            pairs += [
                LabelledPair(question, case.id, True, "expert"),
                LabelledPair(question, other.id, False, "expert"),
            ]
    return pairs


def train_small_verifier(
    cases: list[CaseDoc], encoder: Encoder, model_cache: Path, folder: Path
) -> FittedVerifier:
    """24 steps of 16 pairs of 64 tokens (about 45 s on 2 idle cores). At the script's rate
    (5e-5) 24 steps leave the logits too close together for the int8 check; 2e-4 gets there.
    The torch model is dropped once the export is checked: a test run need not hold it."""
    from retrieval.verifier_training import TrainingConfig, fit_verifier  # torch: imported on use

    vectors = encoder.encode([c.search_text for c in cases])
    config = TrainingConfig(max_steps=24, max_length=64, learning_rate=2e-4)
    fitted = fit_verifier(
        cases, synthetic_pairs(cases, seed=1, per_case=2), vectors, model_cache, folder, config, held_out=0.25
    )
    return replace(fitted, model=None)
