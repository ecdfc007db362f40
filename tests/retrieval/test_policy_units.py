"""The decision bands, expert ranking and rank fusion on hand-built numbers: no embedding model.

The calibration's logistic models each look at one feature (weight 1, mean 0, scale 1, bias 0),
so a probability is sigmoid(that feature) and ``logit(p)`` in a feature row gives probability p.
The only fake is at the boundary: the Retriever encodes its off-topic examples once, with a tiny
encoder that returns unit vectors.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from retrieval.corpus import CaseDoc, Corpus, ExpertDoc
from retrieval.decision import REJECT_FEATURES, SUGGEST_FEATURES, Calibration, LogisticModel
from retrieval.index import FORMAT, KnowledgeIndex, Manifest, new_version
from retrieval.lexical import LexicalMatch
from retrieval.offtopic import OFF_TOPIC_EXAMPLES
from retrieval.policy import RetrievalSettings
from retrieval.ranking import Availability, SiteContext, rank_experts
from retrieval.search import FUSE_DEPTH, RRF_K, SHORTLIST, Examination, Retriever, _fuse

DIM = 8
MODEL_ID = "fake/unit-vectors"


class UnitEncoder:
    """The encoder boundary: every text becomes the last basis vector."""

    model_id = MODEL_ID
    dim = DIM

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), DIM), dtype=np.float32)
        vectors[:, -1] = 1.0
        return vectors


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def one_feature_model(features: tuple[str, ...], name: str) -> LogisticModel:
    """p = sigmoid(row[name]): every other weight is zero."""
    return LogisticModel(
        features,
        [1.0 if f == name else 0.0 for f in features],
        0.0,
        [0.0] * len(features),
        [1.0] * len(features),
    )


def calibration(suggest: float = 0.9, confirm: float = 0.6, reject: float = 0.8) -> Calibration:
    return Calibration(
        MODEL_ID,
        one_feature_model(SUGGEST_FEATURES, "dense"),
        one_feature_model(REJECT_FEATURES, "off_topic"),
        suggest_threshold=suggest,
        reject_threshold=reject,
        confirm_threshold=confirm,
    )


CASES = [
    CaseDoc(
        "K001",
        "挖掘机动臂自己往下掉",
        "动臂停在半空慢慢下沉",
        "检查动臂油缸内泄，更换密封件。",
        "工程机械与智能制造",
        "E01",
    ),
    CaseDoc(
        "K002",
        "数控车床报警SV0401",
        "开机报SV0401，伺服不就绪",
        "检查急停回路和伺服放大器MCC。",
        "工程机械与智能制造",
        "E01",
        ("数控",),
    ),
    CaseDoc("K003", "织机经纱断头多", "经纱老是断", "调整经纱张力，检查综丝。", "纺织", "E02"),
    CaseDoc("K004", "织机纬纱断头多", "纬纱频繁断", "检查储纬器和引纬张力。", "纺织", "E02"),
    CaseDoc(
        "K005", "冷库压缩机高压报警停机", "夏天压缩机高压跳停", "清洗冷凝器，检查风机。", "冷链物流", "E03"
    ),
    CaseDoc("K006", "冷库机组低压报警", "机组低压保护", "检查制冷剂是否泄漏。", "冷链物流", "E03"),
    CaseDoc("K007", "变频器报E05", "风机变频器报E05过压", "延长减速时间，加制动电阻。", "冷链物流", None),
]
EXPERTS = [
    ExpertDoc(
        "E01", "王工", "劳模", "徐工", "铜山区", ("工程机械与智能制造",), ("液压系统维修", "数控维修"), None
    ),
    ExpertDoc("E02", "李工", None, None, "丰县", ("纺织",), ("织机保全",), "织布三十年"),
    ExpertDoc("E03", "赵工", "工匠", "冷链公司", "鼓楼区", ("冷链物流",), ("制冷维修",), None),
]


@pytest.fixture(scope="module")
def index() -> KnowledgeIndex:
    """An index on hand-written unit vectors: case i on basis vector i (one view), experts in
    between."""
    corpus = Corpus(CASES, EXPERTS)
    eye = np.eye(DIM, dtype=np.float32)
    case_vectors = eye[: len(corpus.cases), None, :]
    expert_vectors = (eye[[0, 2, 4]] + eye[[1, 3, 5]]) / np.float32(math.sqrt(2))
    manifest = Manifest(
        FORMAT,
        new_version(corpus.checksum),
        MODEL_ID,
        DIM,
        len(corpus.cases),
        len(corpus.experts),
        corpus.checksum,
        datetime.now(UTC).isoformat(),
    )
    return KnowledgeIndex(manifest, corpus.cases, case_vectors, corpus.experts, expert_vectors)


def suggest_row(p: float) -> list[float]:
    """A SUGGEST_FEATURES row whose case probability is p; the other features are noise."""
    return [logit(p) if name == "dense" else 0.25 * i for i, name in enumerate(SUGGEST_FEATURES)]


def examination(probabilities: list[float], off_topic: float = 0.1) -> Examination:
    """The first ``len(probabilities)`` cases shortlisted in fused order, with those
    probabilities, and an off-topic probability."""
    cases = CASES[: len(probabilities)]
    dense = [0.9 - 0.01 * i for i in range(len(cases))]
    rows = np.array([suggest_row(p) for p in probabilities], dtype=np.float64)
    reject = {
        "off_topic": logit(off_topic),
        "case_top": 0.7,
        "expert_top": 0.6,
        "off_minus_tech": -0.5,
        "coverage": 0.4,
    }
    return Examination(
        cases=cases,
        dense=dense,
        suggest_rows=rows.reshape(len(cases), len(SUGGEST_FEATURES)),
        reject_row=np.array([reject[name] for name in REJECT_FEATURES]),
        pool_cases=cases,
        pool_similarity=np.array(dense),
        expert_similarity=np.array([0.8, 0.7, 0.6]),
        index_version="v-test",
    )


def retriever(calibrated: Calibration | None = None, **settings: object) -> Retriever:
    return Retriever(UnitEncoder(), calibrated or calibration(), RetrievalSettings(**settings))


# ---- Retriever.decide --------------------------------------------------------------------------


def test_the_retriever_encodes_its_off_topic_examples_once_with_the_given_encoder():
    assert retriever().off_topic_vectors.shape == (len(OFF_TOPIC_EXAMPLES), DIM)


@pytest.mark.parametrize(
    ("top", "off_topic", "decision"),
    [
        (0.95, 0.1, "suggest"),
        (0.75, 0.1, "confirm"),
        (0.59, 0.1, "route"),
        (0.05, 0.1, "route"),
        (0.95, 0.85, "reject"),  # reject wins over suggest
        (0.75, 0.85, "reject"),
        (0.05, 0.85, "reject"),
        (0.95, 0.79, "suggest"),
    ],
)
def test_each_band_follows_the_calibrated_thresholds(index, top: float, off_topic: float, decision: str):
    # calibrated: suggest at 0.9, confirm at 0.6, reject at 0.8
    outcome = retriever().decide(index, examination([top / 2, top, top / 4], off_topic))
    assert outcome.decision == decision
    assert outcome.suggest_probability == pytest.approx(top)
    assert outcome.reject_probability == pytest.approx(off_topic)
    assert outcome.index_version == "v-test"


@pytest.mark.parametrize(
    ("thresholds", "decision"),
    [
        ({"suggest": 0.5}, "suggest"),
        ({"suggest": 0.9, "confirm": 0.5}, "confirm"),
    ],
)
def test_a_probability_exactly_at_a_threshold_falls_in_the_band_above(index, thresholds, decision):
    # logit(0.5) == 0.0, and sigmoid(0.0) == 0.5 exactly
    outcome = retriever(calibration(**thresholds)).decide(index, examination([0.5]))
    assert outcome.suggest_probability == 0.5 and outcome.decision == decision
    at_reject = retriever(calibration(reject=0.5)).decide(index, examination([0.95], off_topic=0.5))
    assert at_reject.reject_probability == 0.5 and at_reject.decision == "reject"


@pytest.mark.parametrize(
    ("settings", "top", "off_topic", "decision"),
    [
        ({}, 0.75, 0.1, "confirm"),  # the calibrated bands, for reference
        ({"suggest_threshold": 0.7}, 0.75, 0.1, "suggest"),
        ({"suggest_threshold": 0.99}, 0.95, 0.1, "confirm"),
        ({"confirm_threshold": 0.8}, 0.75, 0.1, "route"),
        ({"confirm_threshold": 0.3}, 0.4, 0.1, "confirm"),
        ({"confirm_threshold": 0.0}, 0.05, 0.1, "confirm"),  # 0.0 is a setting, not "unset"
        ({"reject_threshold": 0.2}, 0.95, 0.3, "reject"),
        ({"reject_threshold": 0.95}, 0.95, 0.85, "suggest"),
        ({"reject_threshold": 0.0}, 0.95, 0.01, "reject"),
    ],
)
def test_settings_override_the_calibrated_thresholds(index, settings, top, off_topic, decision):
    outcome = retriever(**settings).decide(index, examination([top], off_topic))
    assert outcome.decision == decision


@pytest.mark.parametrize("where", ["calibration", "settings"])
def test_a_confirm_threshold_above_the_suggest_threshold_never_confirms(index, where: str):
    if where == "calibration":
        policy = retriever(calibration(suggest=0.6, confirm=0.9))
    else:
        policy = retriever(calibration(suggest=0.6, confirm=0.3), confirm_threshold=0.9)
    for top in np.linspace(0.01, 0.99, 99).tolist():
        outcome = policy.decide(index, examination([top]))
        assert outcome.decision == ("suggest" if top >= 0.6 else "route"), top


def test_a_passed_calibration_overrides_the_loaded_one_and_none_at_all_is_refused(index):
    exam = examination([0.75])
    assert retriever(calibration(suggest=0.9)).decide(index, exam).decision == "confirm"
    assert (
        retriever(calibration(suggest=0.9)).decide(index, exam, calibration=calibration(suggest=0.7)).decision
        == "suggest"
    )
    unloaded = Retriever(UnitEncoder(), None, RetrievalSettings())
    assert unloaded.decide(index, exam, calibration=calibration()).decision == "confirm"
    with pytest.raises(ValueError, match="no calibration"):
        unloaded.decide(index, exam)


def test_cases_come_back_best_first_and_at_most_max_suggestions(index):
    probabilities = [0.2, 0.95, 0.5, 0.7, 0.1, 0.8, 0.3]  # K001..K007 in fused order
    exam = examination(probabilities)
    outcome = retriever().decide(index, exam)
    assert [h.case.id for h in outcome.cases] == ["K002", "K006", "K004", "K003", "K007"]
    assert [h.score for h in outcome.cases] == pytest.approx([0.95, 0.8, 0.7, 0.5, 0.3])
    assert outcome.suggest_probability == outcome.cases[0].score
    assert outcome.decision == "suggest"  # decided on the best case, not the first fused one
    top = outcome.cases[0]
    assert top.dense == exam.dense[1]
    assert top.features == dict(zip(SUGGEST_FEATURES, exam.suggest_rows[1].tolist(), strict=True))
    two = retriever(max_suggestions=2).decide(index, exam)
    assert [h.case.id for h in two.cases] == ["K002", "K006"]
    assert retriever(max_suggestions=20).decide(index, exam).cases[-1].case.id == "K005"


def test_cases_of_equal_probability_keep_the_fused_order(index):
    outcome = retriever().decide(index, examination([0.4, 0.7, 0.4, 0.7]))
    assert [h.case.id for h in outcome.cases] == ["K002", "K004", "K001", "K003"]


def test_no_candidate_is_routed_unless_off_topic(index):
    assert retriever().decide(index, examination([])).decision == "route"
    for zero in ({"suggest_threshold": 0.0}, {"confirm_threshold": 0.0}):  # nothing to suggest
        assert retriever(**zero).decide(index, examination([])).decision == "route"
    outcome = retriever().decide(index, examination([], off_topic=0.9))
    assert outcome.decision == "reject" and outcome.cases == []
    assert outcome.suggest_probability == 0.0


def test_decide_ranks_the_indexed_experts_with_site_and_availability(index):
    exam = examination([0.95])
    outcome = retriever(max_experts=1, route_candidates=2).decide(
        index, exam, site=SiteContext(region="鼓楼区"), availability={"E01": Availability(active=False)}
    )
    assert [h.expert.id for h in outcome.experts] == ["E03", "E02"]


# ---- rank_experts ------------------------------------------------------------------------------

SETTINGS = RetrievalSettings()  # sharpness 2, profile weight 0.5, region 0.15, industry 0.10, load 0.3


def ranked(
    profile: list[float] | None = None,
    pool: list[tuple[str | None, float]] = (),
    site: SiteContext | None = None,
    availability: dict[str, Availability] | None = None,
    experts: list[ExpertDoc] = EXPERTS,
    limit: int = 10,
    params: RetrievalSettings = SETTINGS,
) -> list[tuple[str, float]]:
    """(expert id, score) best first; ``pool`` is (solver, similarity) of the dense neighbours."""
    pool_cases = [
        CaseDoc(f"P{i:03d}", "案例", "问题", "答案", None, solver) for i, (solver, _) in enumerate(pool)
    ]
    hits = rank_experts(
        experts,
        None if profile is None else np.array(profile),
        pool_cases,
        np.array([s for _, s in pool]),
        site,
        availability or {},
        params,
        limit,
    )
    return [(h.expert.id, h.score) for h in hits]


def test_profile_similarity_alone_is_z_scored_and_weighted():
    # z of (0.9, 0.8, 0.7) is (√1.5, 0, -√1.5); the score is profile_weight * 0.1 * z
    z = math.sqrt(1.5)
    assert ranked(profile=[0.7, 0.9, 0.8]) == [
        ("E02", pytest.approx(0.05 * z)),
        ("E03", pytest.approx(0.0, abs=1e-12)),
        ("E01", pytest.approx(-0.05 * z)),
    ]
    # a single expert has no background to stand out from
    assert ranked(profile=[0.9], experts=EXPERTS[:1]) == [("E01", 0.0)]


def test_solved_cases_earn_credit_by_how_far_they_stand_above_the_background():
    # z of (0.9, 0.7) is (1, -1): weights e^2 and e^-2, shared out so the credits sum to 1
    scores = dict(ranked(pool=[("E01", 0.9), ("E02", 0.7)]))
    assert scores["E01"] == pytest.approx(math.exp(2) / (math.exp(2) + math.exp(-2)))
    assert scores["E02"] == pytest.approx(math.exp(-2) / (math.exp(2) + math.exp(-2)))
    assert scores["E03"] == 0.0


def test_one_clearly_closer_case_beats_several_ordinary_ones():
    order = ranked(pool=[("E02", 0.80), ("E01", 0.95), ("E02", 0.80), ("E02", 0.80)])
    assert [e for e, _ in order] == ["E01", "E02", "E03"]
    # sharpness 0: every case counts the same, so the most cases wins
    flat = ranked(
        pool=[("E02", 0.80), ("E01", 0.95), ("E02", 0.80), ("E02", 0.80)],
        params=RetrievalSettings(case_credit_sharpness=0),
    )
    assert flat == [("E02", pytest.approx(0.75)), ("E01", pytest.approx(0.25)), ("E03", 0.0)]


def test_cases_without_a_ranked_solver_set_the_background_but_earn_nothing():
    # z of (0.9, 0.8, 0.7) is (√1.5, 0, -√1.5); the middle case has no (known) solver
    for solver in (None, "E99"):
        scores = dict(ranked(pool=[("E01", 0.9), (solver, 0.8), ("E02", 0.7)]))
        high, low = math.exp(2 * math.sqrt(1.5)), math.exp(-2 * math.sqrt(1.5))
        assert scores["E01"] == pytest.approx(high / (high + low))
        assert scores["E02"] == pytest.approx(low / (high + low))


def test_a_case_credit_is_capped_at_five_standard_deviations():
    # one case at 1.0 among 29 at 0.0: z = √29 > 5 for it, -1/√29 for the others
    pool = [("E01", 1.0)] + [("E02", 0.0)] * 29
    high, low = math.exp(2 * 5), 29 * math.exp(-2 / math.sqrt(29))
    assert dict(ranked(pool=pool))["E01"] == pytest.approx(high / (high + low))


def test_region_and_industry_bonuses():
    assert ranked(site=SiteContext(region="丰县")) == [
        ("E02", pytest.approx(0.15)),
        ("E01", 0.0),
        ("E03", 0.0),
    ]
    assert ranked(site=SiteContext(industry="冷链物流")) == [
        ("E03", pytest.approx(0.10)),
        ("E01", 0.0),
        ("E02", 0.0),
    ]
    # the region weighs more than the industry by default; both add up
    assert ranked(site=SiteContext(region="丰县", industry="冷链物流")) == [
        ("E02", pytest.approx(0.15)),
        ("E03", pytest.approx(0.10)),
        ("E01", 0.0),
    ]
    assert ranked(site=SiteContext(region="鼓楼区", industry="冷链物流"))[0] == ("E03", pytest.approx(0.25))
    # the bonuses add to profile similarity
    assert ranked(profile=[0.7, 0.9, 0.8], site=SiteContext(region="铜山区"))[0] == (
        "E01",
        pytest.approx(0.15 - 0.05 * math.sqrt(1.5)),
    )


def test_an_expert_of_the_sites_own_enterprise_comes_first_when_their_skills_fit():
    z = math.sqrt(1.5)  # profiles (0.9, 0.8, 0.7): E01 stands out (z ≥ 1), E03 stands below
    at_xcmg = ranked(profile=[0.9, 0.8, 0.7], site=SiteContext(org="徐工"))
    assert at_xcmg[0] == ("E01", pytest.approx(0.05 * z + 0.3))
    # near but not fitting: E03's enterprise asks about something E03's profile does not cover
    at_cold_store = dict(ranked(profile=[0.9, 0.8, 0.7], site=SiteContext(org="冷链公司")))
    assert at_cold_store["E03"] == pytest.approx(-0.05 * z)
    # the bonus outweighs the load of any expert still free: two of three tickets open
    busy = {"E01": Availability(open_tickets=2, max_open_tickets=3)}
    assert ranked(profile=[0.9, 0.8, 0.7], site=SiteContext(org="徐工"), availability=busy)[0][0] == "E01"
    assert ranked(profile=[0.9, 0.8, 0.7], availability=busy)[0][0] == "E02"  # elsewhere, load counts


def test_load_is_penalised_pro_rata():
    availability = {
        "E01": Availability(open_tickets=2, max_open_tickets=5),
        "E02": Availability(open_tickets=1, max_open_tickets=2),
    }
    assert ranked(availability=availability) == [
        ("E03", 0.0),
        ("E01", pytest.approx(-0.3 * 2 / 5)),
        ("E02", pytest.approx(-0.3 / 2)),
    ]
    # the region bonus does not make up for a nearly full load (0.15 - 0.3 * 4/5 < 0), a light one
    busy = {"E01": Availability(open_tickets=4, max_open_tickets=5)}
    assert [e for e, _ in ranked(site=SiteContext(region="铜山区"), availability=busy)] == [
        "E02",
        "E03",
        "E01",
    ]
    light = {"E01": Availability(open_tickets=1, max_open_tickets=5)}
    assert ranked(site=SiteContext(region="铜山区"), availability=light)[0] == (
        "E01",
        pytest.approx(0.15 - 0.3 / 5),
    )


@pytest.mark.parametrize(
    "state",
    [
        Availability(active=False),
        Availability(open_tickets=5, max_open_tickets=5),
        Availability(open_tickets=7, max_open_tickets=5),
        Availability(open_tickets=0, max_open_tickets=0),
    ],
    ids=["inactive", "full", "over-full", "takes-none"],
)
def test_inactive_and_full_experts_never_appear(state: Availability):
    order = ranked(
        profile=[0.9, 0.5, 0.4],
        pool=[("E01", 0.9), ("E02", 0.5)],
        site=SiteContext(region="铜山区", industry="工程机械与智能制造"),
        availability={"E01": state},
    )
    assert [e for e, _ in order] == ["E02", "E03"]


def test_equal_scores_are_ordered_by_expert_id_and_cut_at_the_limit():
    shuffled = [EXPERTS[2], EXPERTS[0], EXPERTS[1]]
    assert [e for e, _ in ranked(experts=shuffled)] == ["E01", "E02", "E03"]
    assert [e for e, _ in ranked(experts=shuffled, limit=2)] == ["E01", "E02"]
    assert ranked(experts=[]) == []


# ---- _fuse -------------------------------------------------------------------------------------


def lexical(scores: dict[int, float], size: int) -> LexicalMatch:
    values = np.zeros(size, dtype=np.float32)
    for position, score in scores.items():
        values[position] = score
    return LexicalMatch(scores=values, coverage=np.zeros(size, dtype=np.float32), query_idf={})


def dense(*positions: int) -> np.ndarray:
    return np.array(positions, dtype=np.int64)


def test_a_case_found_by_both_rankings_outranks_one_found_by_one():
    # dense: 0, 1, 2; lexical: 2 alone
    assert _fuse(dense(0, 1, 2), lexical({2: 3.0}, 3)) == [2, 0, 1]
    # even at the bottom of both rankings: 2 / (RRF_K + 49) > 1 / RRF_K
    size = 120
    lexical_scores = {70 + i: 100.0 - i for i in range(FUSE_DEPTH - 1)} | {FUSE_DEPTH - 1: 0.5}
    fused = _fuse(np.arange(size, dtype=np.int64), lexical(lexical_scores, size))
    assert 2 / (RRF_K + FUSE_DEPTH - 1) > 1 / RRF_K
    # then each ranking's first, tied and ordered by position: dense 0 with lexical 70, ...
    assert fused == [49, 0, 70, 1, 71, 2, 72, 3]


def test_lexical_scores_of_zero_or_less_do_not_count():
    assert _fuse(dense(0, 1), lexical({1: 0.3, 2: 0.0, 3: -0.5}, 4)) == [1, 0]
    assert _fuse(dense(3, 1, 2), lexical({}, 4)) == [3, 1, 2]
    assert _fuse(dense(), lexical({0: -1.0, 1: 0.0}, 2)) == []
    assert _fuse(dense(), lexical({2: 1.0, 0: 2.0}, 3)) == [0, 2]


def test_each_ranking_contributes_only_its_first_fuse_depth():
    # position 100 sits at dense rank FUSE_DEPTH (not counted) and lexical rank 0; position 9 is
    # dense rank 0 alone: both score 1 / RRF_K, and the tie goes to the lower position
    positions = np.array([9] + [200 + i for i in range(FUSE_DEPTH - 1)] + [100], dtype=np.int64)
    assert _fuse(positions, lexical({100: 5.0}, 300))[:2] == [9, 100]


def test_at_most_shortlist_positions():
    assert SHORTLIST == 8
    positions = np.arange(20, 0, -1, dtype=np.int64)
    assert _fuse(positions, lexical({}, 21)) == positions[:SHORTLIST].tolist()
    many = {p: float(p) for p in range(21)}
    fused = _fuse(positions, lexical(many, 21))
    assert len(fused) == SHORTLIST and len(set(fused)) == SHORTLIST


def test_ties_are_broken_by_position_whatever_the_input_order():
    # both found at ranks 0 and 1 in opposite orders: equal sums
    assert _fuse(dense(5, 3), lexical({3: 2.0, 5: 1.0}, 6)) == [3, 5]
    assert _fuse(dense(3, 5), lexical({5: 2.0, 3: 1.0}, 6)) == [3, 5]
    # dense rank 0 against lexical rank 0
    assert _fuse(dense(4), lexical({2: 1.0}, 5)) == [2, 4]
    assert _fuse(dense(2), lexical({4: 1.0}, 5)) == [2, 4]
    # equal lexical scores rank by position (stable sort)
    assert _fuse(dense(), lexical({3: 2.0, 1: 2.0}, 4)) == [1, 3]
    # opposite orders: 5 and 7 both get 1/RRF_K + 1/(RRF_K + 2), more than 6's 2/(RRF_K + 1)
    assert _fuse(dense(7, 6, 5), lexical({5: 1.0, 6: 1.0, 7: 1.0}, 8)) == [5, 7, 6]
