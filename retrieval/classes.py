"""Classes related to a question: one normalised vector per upcoming class, and a matrix-vector
product with the question's vector (the one ``Retriever.examine`` already made: no second encode).

A class is embedded as its title, topics and description, with the encoder that embeds the
cases, the way it embeds them: the ``Encoder`` puts the model's prefix before every text
itself (e5's "query: " on both sides, the symmetric use e5 recommends for short texts; the
case views are embedded so, and the calibration in ``scripts/calibrate_classes.py`` measured
this arrangement).

A class is related to a question when it is the question's closest class (or ties with it: the
same class held again embeds the same) and its cosine reaches the threshold
(``RetrievalSettings.class_match_threshold``, calibrated on ``knowledge/eval/class_pairs.jsonl``).
e5's cosines crowd into 0.85-0.93, so a threshold alone showed a transformer class for a PT
fuse and a compressor class for a transformer's oil temperature: no threshold held precision's
lower bound at 0.8 (docs/benchmarks.md). Only classes that have not started are returned.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from retrieval.encoder import Encoder

MAX_CLASSES = 2  # related classes shown next to an answer
TIE = 1e-4  # a class this close to the closest one counts as closest too: a repeated class (same text)


@dataclass(frozen=True)
class ClassDoc:
    """What the matcher keeps of a class: enough to show it without a database query."""

    id: str
    title: str
    kind: str  # knowledge.states.ClassKind
    starts_at: datetime
    place: str | None
    topics: tuple[str, ...] = ()
    description: str | None = None

    @property
    def passage(self) -> str:
        """The text a class is embedded as."""
        text = f"{self.title}。主题：{'、'.join(self.topics)}。"
        return text + (self.description or "")


@dataclass(frozen=True)
class ClassHit:
    doc: ClassDoc
    similarity: float


class ClassMatcher:
    """The classes' vectors (rows L2-normalised, as the encoder returns them)."""

    def __init__(self, docs: Sequence[ClassDoc], vectors: np.ndarray):
        if len(docs) != len(vectors):
            raise ValueError(f"{len(docs)} classes but {len(vectors)} vectors")
        self.docs = list(docs)
        self.vectors = vectors.astype(np.float32, copy=False)

    @classmethod
    def empty(cls) -> ClassMatcher:
        return cls([], np.zeros((0, 0), dtype=np.float32))

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Cosine of every class with one question vector (or a matrix of them, one per row)."""
        if not self.docs or query.size == 0:
            return np.zeros((0,) if query.ndim == 1 else (len(query), 0), dtype=np.float32)
        result: np.ndarray = query @ self.vectors.T
        return result

    def match(
        self, query: np.ndarray, now: datetime, threshold: float, limit: int = MAX_CLASSES
    ) -> list[ClassHit]:
        """The related classes not started by ``now``, closest first."""
        upcoming = [i for i, doc in enumerate(self.docs) if doc.starts_at > now]
        if not upcoming or query.size == 0:
            return []
        scores = self.vectors[upcoming] @ query
        related = np.nonzero(related_mask(scores, threshold))[0]
        order = sorted(related, key=lambda i: -scores[i])
        return [ClassHit(self.docs[upcoming[i]], float(scores[i])) for i in order[:limit]]


def related_mask(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Which classes are related, from one question's cosines with every class (the last axis):
    the closest ones (within ``TIE``) whose cosine reaches ``threshold``."""
    if scores.shape[-1] == 0:
        return np.zeros(scores.shape, dtype=bool)
    closest = scores.max(axis=-1, keepdims=True)
    mask: np.ndarray = (scores >= threshold) & (scores >= closest - TIE)
    return mask


@dataclass
class ClassMatcherHolder:
    """The matcher a process serves, swapped whole when the catalogue changes. Vectors are kept
    per (class id, version) so a refresh encodes only the classes that are new or changed."""

    current: ClassMatcher = field(default_factory=ClassMatcher.empty)
    signature: tuple[Hashable, ...] | None = None  # what ``current`` was built from
    _cache: dict[Hashable, np.ndarray] = field(default_factory=dict)

    def rebuild(self, encoder: Encoder, docs: Sequence[tuple[Hashable, ClassDoc]]) -> ClassMatcher:
        """Build from (version key, class) pairs and serve it; CPU work (call it in a thread)."""
        missing = [(key, doc) for key, doc in docs if key not in self._cache]
        if missing:
            vectors = encoder.encode([doc.passage for _, doc in missing])
            for (key, _), vector in zip(missing, vectors, strict=True):
                self._cache[key] = vector
        self._cache = {key: self._cache[key] for key, _ in docs}
        matrix = (
            np.stack([self._cache[key] for key, _ in docs])
            if docs
            else np.zeros((0, encoder.dim), dtype=np.float32)
        )
        self.current = ClassMatcher([doc for _, doc in docs], matrix)
        self.signature = tuple(key for key, _ in docs)
        return self.current
