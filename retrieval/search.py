"""One question in, one decision out: candidates, features, suggest/route/reject, experts.

The question is encoded once; the same vector searches the cases (faiss) and scores the expert
profiles and the off-topic examples. Lexical BM25 runs next to it, and the two rankings are fused
by reciprocal rank, which finds the right case well; whether to *suggest* it is decided by the
calibrated policy in ``retrieval.decision`` from features of each shortlisted candidate. With
a cross-encoder verifier (``retrieval.verifier``, setting ``use_verifier``) the verifier reads the
policy's top few candidates next to the question and decides suggest and confirm among them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from knowledge.states import Decision
from retrieval.corpus import CaseDoc, ExpertDoc
from retrieval.decision import REJECT_FEATURES, SUGGEST_FEATURES, Calibration
from retrieval.direction import direction_conflict, directions
from retrieval.encoder import Encoder
from retrieval.index import KnowledgeIndex
from retrieval.lexical import LexicalMatch
from retrieval.offtopic import OFF_TOPIC_EXAMPLES
from retrieval.policy import RetrievalSettings
from retrieval.ranking import Availability, ExpertHit, SiteContext, rank_experts
from retrieval.text import (
    clauses,
    code_relation,
    codes,
    contrast_conflict,
    lexical_tokens,
    normalize,
)
from retrieval.verifier import Verifier, case_text

RRF_K = 60
FUSE_DEPTH = 50  # how deep each ranking contributes to the fusion
SHORTLIST = 8  # candidates that get decision features


@dataclass(frozen=True)
class CaseHit:
    case: CaseDoc
    score: float  # probability that this case answers the question (the verifier's when it
    # read the candidates; 0 for a candidate it did not read)
    dense: float
    features: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Examination:
    """Everything measured about one question against one index, before any decision."""

    cases: list[CaseDoc]  # the shortlist, fused order
    dense: list[float]
    suggest_rows: np.ndarray  # one row of SUGGEST_FEATURES per shortlisted case
    reject_row: np.ndarray  # REJECT_FEATURES
    pool_cases: list[CaseDoc]  # dense neighbours, for expert credit
    pool_similarity: np.ndarray
    expert_similarity: np.ndarray
    index_version: str
    # the verifier's probability per shortlisted case, NaN where it did not read it; empty when
    # no verifier read this question (the policy decides)
    verified: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # the question's own vector (the corrected text, encoded once): related classes are matched
    # with it (``retrieval.classes``); empty when an examination was made without one
    query: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    cases: list[CaseHit]
    experts: list[ExpertHit]  # best first; more than are shown, for routing a ticket
    suggest_probability: float
    reject_probability: float
    index_version: str | None


class Retriever:
    def __init__(
        self,
        encoder: Encoder,
        calibration: Calibration | None,
        params: RetrievalSettings,
        verifier: Verifier | None = None,
    ):
        self.encoder = encoder
        self.calibration = calibration
        self.params = params
        self.verifier = verifier
        self.off_topic_vectors = encoder.encode(list(OFF_TOPIC_EXAMPLES))

    def route_without_index(
        self,
        experts: list[ExpertDoc],
        site: SiteContext | None = None,
        availability: dict[str, Availability] | None = None,
    ) -> Outcome:
        """No usable index: every question is routed, experts ranked by region, industry and
        load alone."""
        hits = rank_experts(
            experts,
            None,
            [],
            np.zeros(0),
            site,
            availability or {},
            self.params,
            max(self.params.max_experts, self.params.route_candidates),
        )
        return Outcome(Decision.ROUTE, [], hits, 0.0, 0.0, None)

    def examine_text(self, index: KnowledgeIndex, text: str) -> Examination:
        """Encode the question once and examine it (the CPU-heavy part of a question)."""
        text = self.corrected(index, text)
        exam = self.examine(index, text, self.encoder.encode([text])[0])
        return exam if self.verifier is None else self.verify(text, exam)

    def corrected(self, index: KnowledgeIndex, text: str) -> str:
        """The question with its homophone typos of the knowledge base's words corrected,
        when the setting asks for it; what gets encoded and matched."""
        return index.typos.correct(text)[0] if self.params.correct_typos else text

    def examine(self, index: KnowledgeIndex, text: str, vector: np.ndarray) -> Examination:
        positions, dense = index.search_cases(vector, self.params.candidate_pool)
        lexical = index.lexical.match(text)
        shortlist = _fuse(positions, lexical)
        expert_similarity = (
            index.expert_vectors @ vector if len(index.experts) else np.zeros(0, dtype=np.float32)
        )
        cosines = index.case_similarity(shortlist, vector)
        rows = _suggest_features(index, text, shortlist, cosines, dense, lexical)
        off_topic = float((self.off_topic_vectors @ vector).max())
        case_top = float(dense.max()) if dense.size else 0.0
        expert_top = float(expert_similarity.max()) if expert_similarity.size else 0.0
        coverage_top = max((float(lexical.coverage[p]) for p in shortlist), default=0.0)
        reject = {
            "off_topic": off_topic,
            "case_top": case_top,
            "expert_top": expert_top,
            "off_minus_tech": off_topic - max(case_top, expert_top),
            "coverage": coverage_top,
        }
        return Examination(
            cases=[index.cases[p] for p in shortlist],
            dense=cosines.tolist(),
            suggest_rows=rows,
            reject_row=np.array([reject[name] for name in REJECT_FEATURES]),
            pool_cases=[index.cases[p] for p in positions],
            pool_similarity=dense,
            expert_similarity=expert_similarity,
            index_version=index.version,
            query=vector,
        )

    def verify(self, text: str, exam: Examination, calibration: Calibration | None = None) -> Examination:
        """``exam`` with the verifier's probabilities for the top ``verifier_candidates`` cases in
        the order of the policy's probability (``calibration``, else the loaded one), the order
        ``decide`` would rank them in; one cross-encoder pass per case."""
        if self.verifier is None:
            raise ValueError("no verifier to read the candidates")
        p_case = _case_probability(_required(calibration or self.calibration), exam)
        read = np.argsort(-p_case, kind="stable")[: self.params.verifier_candidates]
        verified = np.full(len(exam.cases), np.nan)
        verified[read] = self.verifier.probability(text, [case_text(exam.cases[i]) for i in read])
        return replace(exam, verified=verified)

    def case_thresholds(
        self, exam: Examination, calibration: Calibration | None = None
    ) -> tuple[float, float]:
        """(suggest, confirm) that ``exam``'s case scores are held to: the verifier's own when it
        read the candidates, else the policy's (``thresholds``)."""
        if len(exam.verified):
            if self.verifier is None:
                raise ValueError("the examination was read by a verifier this retriever does not have")
            return self.verifier.suggest_threshold, self.verifier.confirm_threshold
        suggest_at, confirm_at, _ = self.thresholds(calibration)
        return suggest_at, confirm_at

    def thresholds(self, calibration: Calibration | None = None) -> tuple[float, float, float]:
        """(suggest, confirm, reject) in force: the settings' where given, else calibrated.
        Confirm never lies above suggest."""
        calibration = _required(calibration or self.calibration)
        params = self.params
        suggest_at = (
            calibration.suggest_threshold if params.suggest_threshold is None else params.suggest_threshold
        )
        confirm_at = (
            calibration.confirm_threshold if params.confirm_threshold is None else params.confirm_threshold
        )
        reject_at = (
            calibration.reject_threshold if params.reject_threshold is None else params.reject_threshold
        )
        return suggest_at, min(confirm_at, suggest_at), reject_at

    def decide(
        self,
        index: KnowledgeIndex,
        exam: Examination,
        site: SiteContext | None = None,
        availability: dict[str, Availability] | None = None,
        calibration: Calibration | None = None,
    ) -> Outcome:
        """Turn an examination into a decision; ``calibration`` overrides the loaded one
        (the evaluation's cross-validation fits one per fold). When a verifier read the
        candidates, those it read come first, by its probability, and only they can be suggested
        or confirmed, at its thresholds; reject stays the policy's."""
        params = self.params
        calibration = _required(calibration or self.calibration)
        suggest_at, confirm_at = self.case_thresholds(exam, calibration)
        reject_at = self.thresholds(calibration)[2]
        p_case = _case_probability(calibration, exam)
        if len(exam.verified):
            read = ~np.isnan(exam.verified)
            scores = np.where(read, exam.verified, 0.0)
            order = sorted(range(len(exam.cases)), key=lambda i: (not read[i], -scores[i], -p_case[i]))
        else:
            scores = p_case
            order = sorted(range(len(exam.cases)), key=lambda i: -p_case[i])
        hits = [
            CaseHit(
                exam.cases[i],
                float(scores[i]),
                exam.dense[i],
                dict(zip(SUGGEST_FEATURES, exam.suggest_rows[i].tolist(), strict=True)),
            )
            for i in order
        ]
        top_p = hits[0].score if hits else 0.0
        p_reject = float(calibration.reject.probability(exam.reject_row.reshape(1, -1))[0])
        if p_reject >= reject_at:
            decision = Decision.REJECT
        elif hits and top_p >= suggest_at:
            decision = Decision.SUGGEST
        elif hits and top_p >= confirm_at:
            decision = Decision.CONFIRM
        else:
            decision = Decision.ROUTE
        experts = rank_experts(
            index.experts,
            exam.expert_similarity,
            exam.pool_cases,
            exam.pool_similarity,
            site,
            availability or {},
            params,
            max(params.max_experts, params.route_candidates),
        )
        return Outcome(decision, hits[: params.max_suggestions], experts, top_p, p_reject, exam.index_version)


def _required(calibration: Calibration | None) -> Calibration:
    if calibration is None:
        raise ValueError("no calibration: run scripts/evaluate.py --calibrate")
    return calibration


def _case_probability(calibration: Calibration, exam: Examination) -> np.ndarray:
    """The policy's probability that each shortlisted case answers the question."""
    return calibration.suggest.probability(exam.suggest_rows) if len(exam.cases) else np.zeros(0)


def _fuse(positions: np.ndarray, lexical: LexicalMatch) -> list[int]:
    """Reciprocal-rank fusion of the dense and the lexical ranking; best SHORTLIST positions."""
    fused: dict[int, float] = {}
    for rank, pos in enumerate(positions[:FUSE_DEPTH].tolist()):
        fused[pos] = fused.get(pos, 0.0) + 1.0 / (RRF_K + rank)
    for rank, pos in enumerate(np.argsort(-lexical.scores, kind="stable")[:FUSE_DEPTH].tolist()):
        if lexical.scores[pos] <= 0:
            break
        fused[pos] = fused.get(pos, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(fused, key=lambda p: (-fused[p], p))[:SHORTLIST]


def _suggest_features(
    index: KnowledgeIndex,
    text: str,
    shortlist: list[int],
    cosines: np.ndarray,
    pool_similarity: np.ndarray,
    lexical: LexicalMatch,
) -> np.ndarray:
    """Per candidate: similarity (raw and against the neighbours), lexical coverage of the query
    and of its weakest clause (with and without the answer), alarm-code agreement or conflict, a
    contrast-term conflict (高压 vs 低压, 压力上不去 vs 往上憋), words the knowledge base has
    never seen, and how much of the query a rival explains that this case does not."""
    if not shortlist:
        return np.zeros((0, len(SUGGEST_FEATURES)))
    mean = float(pool_similarity.mean())
    std = float(pool_similarity.std()) or 1.0
    best_bm25 = float(lexical.scores.max()) or 1.0
    total_idf = sum(lexical.query_idf.values()) or 1.0
    query_codes = codes(text)
    query_text = normalize(text)
    query_directions = directions(query_text)
    present = [{t for t in lexical.query_idf if t in index.lexical.doc_tokens[p]} for p in shortlist]
    idf = index.lexical.idf
    # each clause's own words (bigrams and latin tokens, no single characters) that the KB knows
    clause_words = [
        w for w in ({t for t in lexical_tokens(c) if len(t) > 1 and t in idf} for c in clauses(text)) if w
    ]
    query_bigrams = [t for t in lexical_tokens(text) if len(t) == 2 and not t.isascii()]

    def weakest_clause(words_of_case: set[str]) -> float:
        """The smallest share of a clause's IDF mass found among ``words_of_case``."""
        return min(
            (
                sum(idf[w] for w in words if w in words_of_case) / sum(idf[w] for w in words)
                for words in clause_words
            ),
            default=0.0,
        )

    unknown = sum(t not in idf for t in query_bigrams) / len(query_bigrams) if query_bigrams else 0.0
    rows = []
    for i, pos in enumerate(shortlist):
        code_match, code_conflict = code_relation(query_codes, index.case_codes[pos])
        rival = max(
            (
                sum(lexical.query_idf[t] for t in present[j] - present[i])
                for j in range(len(shortlist))
                if j != i
            ),
            default=0.0,
        )
        features = {
            "dense": float(cosines[i]),
            "dense_z": (float(cosines[i]) - mean) / std,
            "coverage": float(lexical.coverage[pos]),
            "bm25": float(lexical.scores[pos]) / best_bm25,
            "bm25_raw": float(np.log1p(lexical.scores[pos])),
            "code_match": float(code_match),
            "code_conflict": float(code_conflict),
            # the other side of a word the case has (低压 vs 高压), or of a reading (上不去 vs 往上憋)
            "contrast": float(
                contrast_conflict(query_text, index.case_text[pos], index.case_contrasts[pos])
                or direction_conflict(query_directions, index.case_directions[pos])
            ),
            "rival": rival / total_idf,
        }
        doc = index.lexical.doc_tokens[pos]
        features["clause_min"] = weakest_clause(doc)
        features["unknown"] = unknown
        features["answer_clause_min"] = weakest_clause(doc | index.answer_tokens[pos])
        rows.append([features[name] for name in SUGGEST_FEATURES])
    return np.array(rows, dtype=np.float64)
