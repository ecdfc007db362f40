"""The related-class threshold chosen on labelled (question, class) pairs
(``knowledge/eval/class_pairs.jsonl``): the lowest cosine whose shown pairs keep the one-sided
Clopper-Pearson 95 % lower bound of their precision at 0.8 or above (``pick_threshold``, the
rule the case thresholds follow). A pair can be shown only when its class is the question's
closest among the catalogue's (``related_mask``, as the matcher decides); its score is its
cosine then, and -1 otherwise. Questions are encoded as written (no typo correction: that
needs an index), classes as the matcher embeds them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge.errors import KnowledgeFormatError
from knowledge.interchange import CLASSES, ClassRecord, parse_file
from retrieval.classes import ClassDoc, ClassMatcher, related_mask
from retrieval.encoder import Encoder
from retrieval.evaluation import pick_threshold, precision_lower_bound

TARGET = 0.8  # lower bound of precision a related class is held to


@dataclass(frozen=True)
class Pair:
    question: str
    class_id: str
    relevant: bool


@dataclass(frozen=True)
class Figures:
    threshold: float
    pairs: int
    relevant: int
    shown: int  # pairs at or above the threshold
    hits: int  # relevant among them
    lower_bound: float

    @property
    def precision(self) -> float:
        return self.hits / self.shown if self.shown else 0.0

    @property
    def recall(self) -> float:
        return self.hits / self.relevant if self.relevant else 0.0


def read_pairs(path: Path) -> list[Pair]:
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            raw = json.loads(line)
            try:
                pairs.append(Pair(raw["question"], raw["class_id"], bool(raw["relevant"])))
            except KeyError as exc:
                raise ValueError(f"{path.name}:{number}: field {exc.args[0]!r} is missing") from None
    return pairs


def class_doc(record: ClassRecord) -> ClassDoc:
    return ClassDoc(
        record.id,
        record.title,
        record.kind,
        record.starts_at,
        record.place,
        tuple(record.topics),
        record.description,
    )


def read_classes(folder: Path) -> list[ClassDoc]:
    records, problems = parse_file(folder / CLASSES.file, CLASSES)
    if problems:
        raise KnowledgeFormatError(problems)
    return [class_doc(record) for _, record in records]


def similarities(encoder: Encoder, classes: list[ClassDoc], pairs: list[Pair]) -> np.ndarray:
    """The cosine of each pair's question with its class (as the matcher computes it), or -1
    where another class of the catalogue is closer to the question."""
    matcher = ClassMatcher(classes, encoder.encode([doc.passage for doc in classes]))
    position = {doc.id: i for i, doc in enumerate(classes)}
    if unknown := sorted({p.class_id for p in pairs} - set(position)):
        raise ValueError(f"pairs name classes not in the catalogue: {', '.join(unknown)}")
    questions = sorted({p.question for p in pairs})
    row = {q: i for i, q in enumerate(questions)}
    scores = matcher.similarities(encoder.encode(questions))
    closest = related_mask(scores, -1.0)  # closest, at any cosine
    return np.array(
        [
            scores[row[p.question], position[p.class_id]]
            if closest[row[p.question], position[p.class_id]]
            else -1.0
            for p in pairs
        ],
        dtype=np.float64,
    )


def figures_at(scores: np.ndarray, relevant: np.ndarray, threshold: float) -> Figures:
    shown = scores >= threshold
    hits = int((relevant & shown).sum())
    bound = float(precision_lower_bound(np.array([hits]), np.array([int(shown.sum())]))[0])
    return Figures(threshold, len(scores), int(relevant.sum()), int(shown.sum()), hits, bound)


def calibrate(scores: np.ndarray, relevant: np.ndarray, target: float = TARGET) -> Figures:
    """The lowest threshold held to ``target`` and its figures (threshold inf: none is)."""
    return figures_at(scores, relevant, pick_threshold(scores, relevant, target, never=float("inf")))
