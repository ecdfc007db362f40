"""Judging a verifier on held-out labelled pairs and placing its thresholds.

The thresholds are held to a lower confidence bound of precision, as the policy's are
(retrieval/evaluation.py), here per pair: "this case answers this question". The precision and
coverage reported for them are judged honestly: the held-out questions are cut in two halves,
thresholds picked on one half are judged on the other, and both ways are pooled. The thresholds
written with the model are then picked on all held-out pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.evaluation import Targets, pick_threshold, precision_lower_bound


@dataclass(frozen=True)
class Thresholds:
    suggest: float
    confirm: float


def auc(answers: np.ndarray, scores: np.ndarray) -> float:
    """The chance that an answering pair scores above a non-answering one (ties count half)."""
    from sklearn.metrics import roc_auc_score

    if answers.all() or not answers.any():
        return float("nan")
    return float(roc_auc_score(answers, scores))


def pick_thresholds(probabilities: np.ndarray, answers: np.ndarray, targets: Targets) -> Thresholds:
    """Suggest and confirm thresholds on held-out pairs; ``NEVER`` where no cut keeps the
    lower bound of precision at its target."""
    suggest = pick_threshold(probabilities, answers, targets.suggest)
    return Thresholds(suggest, min(pick_threshold(probabilities, answers, targets.confirm), suggest))


def _halves(questions: list[str], seed: int) -> np.ndarray:
    """A boolean per pair: does its question fall in the first half of the questions."""
    distinct = sorted(set(questions))
    np.random.default_rng(seed).shuffle(distinct)
    first = set(distinct[: len(distinct) // 2])
    return np.array([q in first for q in questions])


def judge(
    questions: list[str],
    probabilities: np.ndarray,
    answers: np.ndarray,
    targets: Targets = Targets(),
    seed: int = 7,
) -> tuple[Thresholds, dict[str, object]]:
    """The thresholds to ship (fitted on all these pairs) and the figures judged across the two
    halves: AUC, and per band the threshold, precision, its lower bound and coverage."""
    answers = answers.astype(bool)
    first = _halves(questions, seed)
    shown = {"suggest": np.zeros(len(answers), bool), "confirm": np.zeros(len(answers), bool)}
    for fit in (first, ~first):
        picked = pick_thresholds(probabilities[fit], answers[fit], targets)
        judged = ~fit
        shown["suggest"][judged] = probabilities[judged] >= picked.suggest
        shown["confirm"][judged] = probabilities[judged] >= picked.confirm
    shipped = pick_thresholds(probabilities, answers, targets)
    figures: dict[str, object] = {
        "pairs": len(answers),
        "questions": len(set(questions)),
        "answering_pairs": int(answers.sum()),
        "auc": round(auc(answers, probabilities), 4),
    }
    for band, target in (("suggest", targets.suggest), ("confirm", targets.confirm)):
        mask = shown[band]
        hits = int((mask & answers).sum())
        figures[band] = {
            "threshold": getattr(shipped, band),
            "target_lower_bound": target,
            "shown": int(mask.sum()),
            "precision": round(hits / mask.sum(), 4) if mask.any() else None,
            "precision_lower_bound": round(
                float(precision_lower_bound(np.array([hits]), np.array([max(int(mask.sum()), 1)]))[0]), 4
            ),
            "coverage": round(hits / answers.sum(), 4) if answers.any() else None,
        }
    return shipped, figures


def fewest_answering_pairs(target: float) -> int:
    """How many answering pairs in a row, none wrong, a threshold needs before its precision's
    lower bound reaches ``target`` (59 for 0.95): the floor of held-out labels for a threshold."""
    shown = 1
    while precision_lower_bound(np.array([shown]), np.array([shown]))[0] < target:
        shown += 1
    return shown
