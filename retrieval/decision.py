"""The suggest / confirm / route / reject policy.

Finding the right case is easy; deciding whether it answers the question is not. A look-alike
case (same machine, another fault or alarm code) scores as high as a true paraphrase, so the
top cosine alone cannot decide. Each candidate gets a few features (dense similarity and how far
it stands above the other neighbours, lexical coverage of the whole query and of each clause,
alarm-code agreement or conflict, opposite terms such as 高压/低压, how much of the query a rival
case explains better) and a small logistic model, fitted by
``scripts/evaluate.py --calibrate`` on the labelled set, turns them into the probability that
the case answers the question. Off-topic questions are told apart by how much closer they come
to examples of non-technical questions than to any case or expert.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")

SUGGEST_FEATURES = (
    "dense",
    "dense_z",
    "coverage",
    "bm25",
    "code_match",
    "code_conflict",
    "contrast",
    "rival",
    "clause_min",
    "unknown",
    "bm25_raw",
    "answer_clause_min",
)
REJECT_FEATURES = ("off_topic", "case_top", "expert_top", "off_minus_tech", "coverage")


@dataclass
class LogisticModel:
    """Standardize, then a logistic model: p = sigmoid(w · (x - mean) / scale + b)."""

    features: tuple[str, ...]
    weights: list[float]
    bias: float
    mean: list[float]
    scale: list[float]

    def probability(self, rows: np.ndarray) -> np.ndarray:
        z = (rows - np.asarray(self.mean)) / np.asarray(self.scale)
        probabilities: np.ndarray = 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.weights) + self.bias)))
        return probabilities

    @classmethod
    def fit(
        cls, features: tuple[str, ...], rows: np.ndarray, labels: np.ndarray, c: float = 1.0
    ) -> LogisticModel:
        from sklearn.linear_model import LogisticRegression

        mean = rows.mean(axis=0)
        scale = rows.std(axis=0)
        scale[scale == 0] = 1.0
        model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        model.fit((rows - mean) / scale, labels)
        return cls(
            features, model.coef_[0].tolist(), float(model.intercept_[0]), mean.tolist(), scale.tolist()
        )


NEVER = 1.000001  # a threshold above any probability: the fit found no safe place for one


@dataclass
class Calibration:
    """What ``calibration.json`` holds; tied to the embedding model it was fitted with."""

    model_id: str
    suggest: LogisticModel
    reject: LogisticModel
    suggest_threshold: float  # trusted: suggested on its own (see retrieval/evaluation.py)
    reject_threshold: float
    confirm_threshold: float  # plausible: shown unconfirmed, an expert confirms with one tap
    fit: dict[str, Any] = field(default_factory=dict)  # when and on what it was fitted, its figures

    def save(self, path: Path = CALIBRATION_FILE) -> None:
        data = {
            "model_id": self.model_id,
            "suggest_threshold": self.suggest_threshold,
            "confirm_threshold": self.confirm_threshold,
            "reject_threshold": self.reject_threshold,
            "fit": self.fit,
            "suggest": asdict(self.suggest),
            "reject": asdict(self.reject),
        }
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> Calibration:
        data = json.loads(path.read_text(encoding="utf-8"))

        def model(d: dict[str, Any]) -> LogisticModel:
            return LogisticModel(tuple(d["features"]), d["weights"], d["bias"], d["mean"], d["scale"])

        calibration = cls(
            data["model_id"],
            model(data["suggest"]),
            model(data["reject"]),
            data["suggest_threshold"],
            data["reject_threshold"],
            # fitted before the confirm band existed: no band
            data.get("confirm_threshold", data["suggest_threshold"]),
            data.get("fit", {}),
        )
        if (calibration.suggest.features, calibration.reject.features) != (SUGGEST_FEATURES, REJECT_FEATURES):
            raise ValueError(
                f"{path} was fitted on other features than this code computes; "
                "run scripts/evaluate.py --calibrate"
            )
        return calibration
