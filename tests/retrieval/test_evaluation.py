"""The evaluation's own machinery: thresholds at a lower bound of precision, look-alikes from
the knowledge base, relabelling for distractors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from retrieval.corpus import CaseDoc, Corpus
from retrieval.decision import NEVER
from retrieval.evaluation import LabelledQuery, examine_all, leave_one_out, pick_threshold, relabelled
from retrieval.index import build_index
from retrieval.policy import RetrievalSettings
from retrieval.search import Retriever

CASES = [
    CaseDoc("K1", "数控车床报SV0401", "车床一开机就报SV0401 复位不掉", "查急停链和MCC", "机械", None),
    CaseDoc("K2", "数控车床报SV0436软过热", "X轴干重活就报436", "查负载和切削参数", "机械", None),
    CaseDoc("K3", "冷库库温降不下来", "冷库一直三四度 压缩机不停", "查蒸发器结霜和制冷剂", "冷链", None),
]


def test_each_case_question_is_asked_of_the_index_without_its_case(encoder):
    index = build_index(Corpus(CASES, []), encoder)
    look_alikes = leave_one_out(Retriever(encoder, None, RetrievalSettings()), index)
    assert [q.text for q in look_alikes.queries] == [c.question for c in CASES]
    assert all(q.kind == "novel" and q.case_id is None for q in look_alikes.queries)
    for query, exam in zip(look_alikes.queries, look_alikes.exams, strict=True):
        candidates = [c.id for c in exam.cases]
        assert query.id.removeprefix("without-") not in candidates and len(candidates) == 2
    # the other lathe alarm is the closest look-alike of a lathe alarm
    assert look_alikes.exams[0].cases[0].id == "K2"


def test_the_evaluation_examines_what_a_single_question_gets(encoder):
    """evaluate.py encodes a whole set at once, /api/ask one question: both must see the same
    numbers, or the calibration is fitted on examinations the product never makes."""
    index = build_index(Corpus(CASES, []), encoder)
    retriever = Retriever(encoder, None, RetrievalSettings())
    texts = ["车床开机报sv0401", "冷库温度降不下来 压缩机一直转", "X轴一干重活就报警", "食堂几点开饭"]
    queries = [LabelledQuery(f"Q{i}", t, "paraphrase", None, None, ()) for i, t in enumerate(texts)]
    for together, text in zip(examine_all(retriever, index, queries), texts, strict=True):
        alone = retriever.examine_text(index, text)
        assert [c.id for c in together.cases] == [c.id for c in alone.cases]
        np.testing.assert_array_equal(together.query, alone.query)
        np.testing.assert_array_equal(together.suggest_rows, alone.suggest_rows)
        np.testing.assert_array_equal(together.reject_row, alone.reject_row)


def test_queries_a_distractor_answers_are_relabelled(tmp_path: Path):
    queries = [
        LabelledQuery("B1", "风筒漏风", "novel", None, None, ()),
        LabelledQuery("B2", "车床报SV0401", "paraphrase", None, "K1", ()),
    ]
    path = tmp_path / "relabel.jsonl"
    path.write_text(json.dumps({"query": "B1", "case_id": "D9", "why": "D9 answers it"}) + "\n\n")
    fixed = relabelled(queries, path)
    assert (fixed[0].kind, fixed[0].case_id) == ("paraphrase", "D9") and fixed[1] == queries[1]
    assert relabelled(queries, tmp_path / "missing.jsonl") == queries


def test_the_threshold_keeps_the_lower_bound_of_precision_or_never_suggests():
    # 40 right answers above one wrong one: the bound holds down to the 40th, not past the wrong
    probabilities = np.array([0.99 - i * 0.001 for i in range(40)] + [0.90, 0.89])
    correct = np.array([True] * 40 + [False, True])
    assert pick_threshold(probabilities, correct, 0.9) == probabilities[39]
    # a bound of 0.95 needs ~58 right in a row: no threshold is safe, and none above 1 passes
    assert pick_threshold(probabilities, correct, 0.95) == NEVER > 1.0
    # exactly where the last allowed probability lies, with no rounding that could let in less
    odd = np.array([0.9 - i * 0.01 for i in range(9)] + [0.81234549] + [0.5] * 6)
    assert pick_threshold(odd, np.array([True] * 10 + [False] * 6), 0.5) == 0.81234549


def test_never_lies_above_scores_that_are_not_probabilities():
    """The BM25 baseline thresholds raw scores (tens): its 'never' must be above all of them."""
    scores = np.array([31.5, 22.0, 17.25])
    never = pick_threshold(scores, np.array([False, True, True]), 0.95, never=np.inf)
    assert never == np.inf and not (scores >= never).any()
