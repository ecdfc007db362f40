"""Measuring retrieval on labelled query sets, and fitting the decision policy on them.

The sets were written by different hands and methods (``knowledge/eval/``). The figure that
counts is cross-set: the policy (two logistic models and their thresholds) is fitted on the
other sets and judged on a set it has never seen, because a policy fitted on one author's
questions is always too sure of itself on another's. The thresholds sit at a lower confidence
bound (Clopper-Pearson) of precision on the fitting data, not at the point estimate. Pooled
k-fold cross-validation and a plain BM25 baseline are measured on the same queries for
comparison.

Every fit also learns from the knowledge base itself: each case's own question, asked of the
index without that case, is a question about a fault the index does not hold, and what comes
first is that question's closest look-alike (``leave_one_out``). Those are the negatives a
written set has few of; they are never judged on, only learnt from.

A policy fitted on a small knowledge base is too sure of itself on a large one, where every
question has more look-alikes (and the other way round). So queries are examined in scenes, the
knowledge base as it is and grown by distractor cases, and a policy learns from all of them and
is judged in each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from knowledge.states import Decision, LabelSource
from retrieval.corpus import Corpus
from retrieval.decision import NEVER, REJECT_FEATURES, SUGGEST_FEATURES, Calibration, LogisticModel
from retrieval.index import KnowledgeIndex
from retrieval.lexical import BM25Index
from retrieval.ranking import SiteContext
from retrieval.search import Examination, Outcome, Retriever

KINDS = ("paraphrase", "near_miss", "novel", "off_topic")


@dataclass(frozen=True)
class LabelledQuery:
    id: str
    text: str
    kind: str
    site: str | None
    case_id: str | None
    experts: tuple[str, ...]
    hard: bool = False  # a paraphrase with little wording in common with its case


def load_queries(path: Path) -> list[LabelledQuery]:
    queries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            queries.append(
                LabelledQuery(
                    raw["id"],
                    raw["text"],
                    raw["kind"],
                    raw.get("site"),
                    raw.get("case_id"),
                    tuple(raw.get("experts") or ()),
                    str(raw.get("note") or "").startswith("hard"),
                )
            )
    return queries


# a stored labelled pair: label id, question text, site, case id, answers, source
LabelRow = tuple[int, str, str | None, str, bool, str]


def queries_from_labels(rows: list[LabelRow]) -> list[LabelledQuery]:
    """Labelled pairs the product stored (label id, question text, site, case id, answers,
    source) as queries: a case that answers makes a paraphrase, one that does not a near miss.
    Where sources disagree on a pair, the expert's word counts, then a publication, then the
    worker's."""
    rank: dict[str, int] = {LabelSource.EXPERT: 0, LabelSource.PUBLISHED: 1, LabelSource.WORKER: 2}
    best: dict[tuple[str, str], LabelRow] = {}
    for row in rows:
        key = (row[1], row[3])
        if key not in best or rank.get(row[5], 9) < rank.get(best[key][5], 9):
            best[key] = row
    return [
        LabelledQuery(
            f"L{label_id}",
            text,
            "paraphrase" if answers else "near_miss",
            site,
            case_id if answers else None,
            (),
        )
        for label_id, text, site, case_id, answers, _ in best.values()
    ]


@dataclass
class Prediction:
    """What a policy answered for one query: ranked case ids, decision, ranked expert ids."""

    cases: list[str]
    decision: str
    experts: list[str]
    top_probability: float


@dataclass
class Metrics:
    recall_at_1: float
    recall_at_3: float
    hard_recall_at_3: float
    suggest_precision: float
    coverage: float
    suggested: float
    near_miss_suggested: float
    confirmed: float
    near_miss_confirmed: float
    first_in_suggest_or_confirm: float
    off_topic_rejected: float
    technical_rejected: float
    expert_top1: float
    expert_top3: float

    ROWS = (
        ("paraphrase recall@1", "recall_at_1"),
        ("paraphrase recall@3", "recall_at_3"),
        ("hard paraphrase recall@3", "hard_recall_at_3"),
        ("suggest precision (all queries)", "suggest_precision"),
        ("coverage (paraphrases answered right)", "coverage"),
        ("suggestions made", "suggested"),
        ("look-alikes (near misses) suggested", "near_miss_suggested"),
        ("sent to an expert to confirm", "confirmed"),
        ("look-alikes sent to confirm (shown as unconfirmed)", "near_miss_confirmed"),
        ("paraphrases with the right case first in suggest or confirm", "first_in_suggest_or_confirm"),
        ("off-topic rejected", "off_topic_rejected"),
        ("technical questions rejected", "technical_rejected"),
        ("expert top-1", "expert_top1"),
        ("expert top-3", "expert_top3"),
    )
    COUNTS = ("suggested", "confirmed")


def score(queries: list[LabelledQuery], predictions: list[Prediction]) -> Metrics:
    def share(hits: list[bool]) -> float:
        return sum(hits) / len(hits) if hits else float("nan")

    pairs = list(zip(queries, predictions, strict=True))
    para = [(q, p) for q, p in pairs if q.kind == "paraphrase"]
    suggested = [(q, p) for q, p in pairs if p.decision == Decision.SUGGEST]
    right = [q.kind == "paraphrase" and p.cases[:1] == [q.case_id] for q, p in suggested]
    routed = [(q, p) for q, p in pairs if q.experts]
    return Metrics(
        recall_at_1=share([p.cases[:1] == [q.case_id] for q, p in para]),
        recall_at_3=share([q.case_id in p.cases[:3] for q, p in para]),
        hard_recall_at_3=share([q.case_id in p.cases[:3] for q, p in para if q.hard]),
        suggest_precision=share(right),
        coverage=sum(right) / len(para) if para else float("nan"),
        suggested=len(suggested),
        near_miss_suggested=share(
            [p.decision == Decision.SUGGEST for q, p in pairs if q.kind == "near_miss"]
        ),
        confirmed=sum(p.decision == Decision.CONFIRM for p in predictions),
        near_miss_confirmed=share(
            [p.decision == Decision.CONFIRM for q, p in pairs if q.kind == "near_miss"]
        ),
        first_in_suggest_or_confirm=share(
            [
                p.decision in (Decision.SUGGEST, Decision.CONFIRM) and p.cases[:1] == [q.case_id]
                for q, p in para
            ]
        ),
        off_topic_rejected=share([p.decision == Decision.REJECT for q, p in pairs if q.kind == "off_topic"]),
        technical_rejected=share([p.decision == Decision.REJECT for q, p in pairs if q.kind != "off_topic"]),
        expert_top1=share([bool(p.experts[:1]) and p.experts[0] in q.experts for q, p in routed]),
        expert_top3=share([bool(set(p.experts[:3]) & set(q.experts)) for q, p in routed]),
    )


def precision_lower_bound(hits: np.ndarray, shown: np.ndarray, confidence: float = 0.95) -> np.ndarray:
    """One-sided Clopper-Pearson lower bound of hits/shown: with 60 of 60 right it is 0.95,
    with 59 of 60 about 0.92. A threshold held to it leaves room for the next author's words."""
    from scipy.stats import beta

    bound = beta.ppf(1 - confidence, hits, shown - hits + 1)
    return np.where(hits > 0, np.nan_to_num(bound), 0.0)


def pick_threshold(
    probabilities: np.ndarray, correct: np.ndarray, precision: float, never: float = NEVER
) -> float:
    """The lowest threshold whose suggestions keep the lower confidence bound of their
    precision at ``precision`` or above (answering the most queries); ``never`` when none does:
    above every probability by default, infinity for scores that are not probabilities."""
    order = np.argsort(-probabilities, kind="stable")
    hits = np.cumsum(correct[order])
    shown = np.arange(1, len(order) + 1)
    passing = np.nonzero(precision_lower_bound(hits, shown) >= precision)[0]
    # only cut between distinct probabilities
    ok = [i for i in passing if i == len(order) - 1 or probabilities[order[i]] > probabilities[order[i + 1]]]
    if not ok:
        return never
    return float(probabilities[order[max(ok)]])


@dataclass(frozen=True)
class Targets:
    """Lower confidence bounds of precision the thresholds are held to on the fitting data."""

    suggest: float = 0.95  # a suggestion is trusted: it answers the worker on its own
    confirm: float = 0.6  # right more often than not: worth one tap of an expert. With the
    # look-alikes learnt from the knowledge base, 0.7 showed the right case first for only 0.735
    # of another hand's paraphrases, 0.6 for 0.807 (docs/benchmarks.md)
    reject: float = 0.95  # clearly off-topic: a wrongly rejected technical question is lost (at
    # 0.9, four questions about machines the base does not hold were; docs/benchmarks.md)


def fit_calibration(
    model_id: str,
    queries: list[LabelledQuery],
    exams: list[Examination],
    targets: Targets,
) -> Calibration:
    """Fit both logistic models and pick their thresholds on these queries."""
    rows, labels = [], []
    for q, exam in zip(queries, exams, strict=True):
        for case, row in zip(exam.cases, exam.suggest_rows, strict=True):
            rows.append(row)
            labels.append(int(q.kind == "paraphrase" and case.id == q.case_id))
    suggest = LogisticModel.fit(SUGGEST_FEATURES, np.array(rows), np.array(labels))
    reject_rows = np.array([exam.reject_row for exam in exams])
    off = np.array([q.kind == "off_topic" for q in queries], dtype=int)
    reject = LogisticModel.fit(REJECT_FEATURES, reject_rows, off)

    top_p, top_right = [], []
    for q, exam in zip(queries, exams, strict=True):
        p = suggest.probability(exam.suggest_rows) if len(exam.cases) else np.zeros(1)
        best = int(np.argmax(p))
        top_p.append(float(p[best]))
        top_right.append(len(exam.cases) > 0 and q.kind == "paraphrase" and exam.cases[best].id == q.case_id)
    suggest_at = pick_threshold(np.array(top_p), np.array(top_right), targets.suggest)
    confirm_at = min(pick_threshold(np.array(top_p), np.array(top_right), targets.confirm), suggest_at)
    p_off = reject.probability(reject_rows)
    reject_at = pick_threshold(p_off, off.astype(bool), targets.reject)
    # unrounded: a threshold rounded down would let in the probability just below it
    return Calibration(model_id, suggest, reject, suggest_at, reject_at, confirm_at)


def predict(
    retriever: Retriever,
    index: KnowledgeIndex,
    exam: Examination,
    site: SiteContext | None,
    calibration: Calibration,
) -> Prediction:
    outcome: Outcome = retriever.decide(index, exam, site, calibration=calibration)
    return Prediction(
        [h.case.id for h in outcome.cases],
        outcome.decision,
        [h.expert.id for h in outcome.experts],
        outcome.suggest_probability,
    )


def folds(queries: list[LabelledQuery], k: int, seed: int = 7) -> list[np.ndarray]:
    """Stratified by kind, so each fold has its share of paraphrases, near misses..."""
    rng = np.random.default_rng(seed)
    assignment = np.zeros(len(queries), dtype=int)
    for kind in KINDS:
        members = np.array([i for i, q in enumerate(queries) if q.kind == kind])
        rng.shuffle(members)
        for j, i in enumerate(members):
            assignment[i] = j % k
    return [np.nonzero(assignment == f)[0] for f in range(k)]


def mean_metrics(runs: list[Metrics]) -> Metrics:
    """Average of repeated cross-validation runs (each with other folds)."""
    return Metrics(
        **{name: float(np.mean([getattr(m, name) for m in runs])) for name in Metrics.__dataclass_fields__}
    )


def cross_validate(
    retriever: Retriever,
    index: KnowledgeIndex,
    queries: list[LabelledQuery],
    exams: list[Examination],
    sites: dict[str, SiteContext],
    k: int,
    targets: Targets,
    seed: int = 7,
) -> list[Prediction]:
    """Pooled k-fold: every fold mixes all authors (kept for comparison; optimistic)."""
    predictions: list[Prediction | None] = [None] * len(queries)
    for held_out in folds(queries, k, seed):
        train = [i for i in range(len(queries)) if i not in set(held_out.tolist())]
        calibration = fit_calibration("cv", [queries[i] for i in train], [exams[i] for i in train], targets)
        for i in held_out:
            predictions[i] = predict(
                retriever, index, exams[i], sites.get(queries[i].site or ""), calibration
            )
    return [p for p in predictions if p is not None]


@dataclass
class QuerySet:
    name: str
    queries: list[LabelledQuery]
    exams: list[Examination]


@dataclass
class Scene:
    """The query sets examined against one index (one size of the knowledge base), and that
    index's own leave-one-out look-alikes."""

    name: str
    index: KnowledgeIndex
    sets: list[QuerySet]
    look_alikes: QuerySet

    def learning(self, leave_out: str | None = None) -> list[QuerySet]:
        return [s for s in self.sets if s.name != leave_out] + [self.look_alikes]

    def held(self, name: str) -> QuerySet:
        return next(s for s in self.sets if s.name == name)


def fit_on(model_id: str, parts: list[QuerySet], targets: Targets) -> Calibration:
    return fit_calibration(
        model_id, [q for p in parts for q in p.queries], [e for p in parts for e in p.exams], targets
    )


def judge(
    retriever: Retriever,
    scene: Scene,
    held: QuerySet,
    sites: dict[str, SiteContext],
    calibration: Calibration,
) -> list[Prediction]:
    """``held`` decided with ``calibration``; a retriever with a verifier first has it read each
    question's top candidates in this calibration's order, as the service does in its own."""
    exams = held.exams
    if retriever.verifier is not None:
        exams = [
            retriever.verify(retriever.corrected(scene.index, q.text), e, calibration)
            for q, e in zip(held.queries, exams, strict=True)
        ]
    return [
        predict(retriever, scene.index, e, sites.get(q.site or ""), calibration)
        for q, e in zip(held.queries, exams, strict=True)
    ]


def cross_set(
    retriever: Retriever, scenes: list[Scene], held: str, sites: dict[str, SiteContext], targets: Targets
) -> dict[str, list[Prediction]]:
    """Fit on every set but ``held`` in every scene, judge ``held`` in each scene: the figure
    for questions written by another hand than the ones the policy learnt from."""
    calibration = fit_on("cross-set", [s for scene in scenes for s in scene.learning(held)], targets)
    return {scene.name: judge(retriever, scene, scene.held(held), sites, calibration) for scene in scenes}


def relabelled(queries: list[LabelledQuery], path: Path) -> list[LabelledQuery]:
    """``queries`` with the answers distractor cases give (``relabel.jsonl``: query, case_id):
    a question no demo case answers can be answered by a distractor."""
    if not path.exists():
        return queries
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    answers = {row["query"]: row["case_id"] for row in rows}
    return [replace(q, kind="paraphrase", case_id=answers[q.id]) if q.id in answers else q for q in queries]


# ---- the plain BM25 baseline -------------------------------------------------------------


def bm25_baseline(
    corpus: Corpus, queries: list[LabelledQuery], k: int, targets: Targets, seed: int = 7
) -> list[Prediction]:
    """Cases and experts ranked by BM25 alone (characters + bigrams); suggest and reject by a
    threshold on the raw top score, tuned by the same cross-validation."""
    cases = BM25Index([c.lexical_text for c in corpus.cases])
    experts = BM25Index([e.profile_text for e in corpus.experts])
    ranked, tops = [], []
    for q in queries:
        scores = cases.match(q.text).scores
        order = np.argsort(-scores, kind="stable")[:5]
        expert_scores = experts.match(q.text).scores
        ranked.append(
            (
                [corpus.cases[i].id for i in order],
                [corpus.experts[i].id for i in np.argsort(-expert_scores, kind="stable")[:3]],
            )
        )
        tops.append(float(scores.max(initial=0.0)))
    tops_arr = np.array(tops)
    right = np.array(
        [q.kind == "paraphrase" and r[0][:1] == [q.case_id] for q, r in zip(queries, ranked, strict=True)]
    )
    off = np.array([q.kind == "off_topic" for q in queries])
    predictions: list[Prediction | None] = [None] * len(queries)
    for held_out in folds(queries, k, seed):
        train = np.setdiff1d(np.arange(len(queries)), held_out)
        # BM25 scores are unbounded: 'never' must lie above any of them
        suggest_at = pick_threshold(tops_arr[train], right[train], targets.suggest, never=np.inf)
        # off-topic = low lexical overlap: threshold on the negated score
        reject_at = pick_threshold(-tops_arr[train], off[train], targets.reject, never=np.inf)
        for i in held_out:
            decision = (
                Decision.REJECT
                if -tops_arr[i] >= reject_at
                else Decision.SUGGEST
                if tops_arr[i] >= suggest_at
                else Decision.ROUTE
            )
            predictions[i] = Prediction(ranked[i][0], decision, ranked[i][1], tops_arr[i])
    return [p for p in predictions if p is not None]


LEAVE_ONE_OUT_CASES = 400  # enough look-alikes to learn from; the cost grows with the square


def leave_one_out(retriever: Retriever, index: KnowledgeIndex) -> QuerySet:
    """Each case's own question examined against the index without that case (at most
    LEAVE_ONE_OUT_CASES, spread evenly): a question no case answers, whose candidates are its
    closest look-alikes. Labelled ``novel``."""
    step = max(1, len(index.cases) // LEAVE_ONE_OUT_CASES)
    chosen = list(range(0, len(index.cases), step))[:LEAVE_ONE_OUT_CASES]
    vectors = retriever.encoder.encode([index.cases[i].question for i in chosen])
    queries, exams = [], []
    for i, vector in zip(chosen, vectors, strict=True):
        case = index.cases[i]
        others = [j for j in range(len(index.cases)) if j != i]
        without = KnowledgeIndex(
            index.manifest,
            [index.cases[j] for j in others],
            index.case_vectors[others],
            index.experts,
            index.expert_vectors,
        )
        queries.append(LabelledQuery(f"without-{case.id}", case.question, "novel", None, None, ()))
        exams.append(retriever.examine(without, case.question, vector))
    return QuerySet("each case left out", queries, exams)


def examine_all(
    retriever: Retriever,
    index: KnowledgeIndex,
    queries: list[LabelledQuery],
    progress: Callable[[int, int], None] | None = None,
) -> list[Examination]:
    texts = [retriever.corrected(index, q.text) for q in queries]
    vectors = retriever.encoder.encode(texts)
    exams = []
    for i, (text, v) in enumerate(zip(texts, vectors, strict=True), start=1):
        exams.append(retriever.examine(index, text, v))
        if progress:
            progress(i, len(queries))
    return exams
