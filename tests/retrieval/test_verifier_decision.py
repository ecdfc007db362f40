"""The verifier deciding: it reads the policy's top candidates and decides suggest and confirm
among them at its own thresholds, whatever the policy would have decided (the small verifier
trained once per run, its thresholds rewritten to place each question on a chosen side)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from retrieval.corpus import Corpus
from retrieval.decision import Calibration
from retrieval.evaluation import load_queries
from retrieval.index import KnowledgeIndex, build_index
from retrieval.policy import RetrievalSettings
from retrieval.search import Examination, Outcome, Retriever
from retrieval.verifier import (
    MANIFEST_FILE,
    MODEL_FILE,
    NEVER,
    TOKENIZER_FILE,
    Verifier,
    load_verifier,
)
from retrieval.verifier_data import read_cases
from tests.conftest import DEMO_DIR, REPO

pytestmark = pytest.mark.slow


def with_thresholds(trained: Path, folder: Path, suggest: float, confirm: float) -> Verifier:
    """The trained verifier with other thresholds written into its manifest (a folder beside it
    that links the model and the tokenizer)."""
    folder.mkdir()
    for name in (MODEL_FILE, TOKENIZER_FILE):
        (folder / name).symlink_to(trained / name)
    manifest = load_verifier(trained).manifest
    replace(manifest, suggest_threshold=suggest, confirm_threshold=confirm).write(folder / MANIFEST_FILE)
    return load_verifier(folder)


@pytest.fixture(scope="module")
def index(encoder) -> KnowledgeIndex:
    return build_index(Corpus(read_cases(DEMO_DIR), []), encoder)


@pytest.fixture(scope="module")
def policy(encoder) -> Retriever:
    return Retriever(encoder, Calibration.load(), RetrievalSettings())


@pytest.fixture(scope="module")
def questions() -> list[str]:
    return [
        q.text for q in load_queries(REPO / "knowledge" / "eval" / "queries.jsonl") if q.kind == "paraphrase"
    ]


def test_the_verifier_reads_the_policys_top_candidates_and_only_they_can_be_decided(
    encoder, index, policy, questions, trained_verifier
):
    checking = Retriever(
        encoder,
        policy.calibration,
        RetrievalSettings(verifier_candidates=2),
        load_verifier(trained_verifier.folder),
    )
    text = questions[0]
    exam = checking.examine_text(index, text)
    policy_order = [h.case.id for h in policy.decide(index, policy.examine_text(index, text)).cases]

    read = ~np.isnan(exam.verified)
    assert len(exam.verified) == len(exam.cases) > 2 and read.sum() == 2
    assert {c.id for c, r in zip(exam.cases, read, strict=True) if r} == set(policy_order[:2])
    outcome = checking.decide(index, exam)
    by_id = {c.id: p for c, p in zip(exam.cases, exam.verified, strict=True)}
    assert [h.score for h in outcome.cases[:2]] == sorted((by_id[i] for i in policy_order[:2]), reverse=True)
    assert outcome.suggest_probability == outcome.cases[0].score == np.nanmax(exam.verified)
    # the unread candidates follow in the policy's order, with nothing to stand on
    assert [h.case.id for h in outcome.cases[2:]] == policy_order[2:5]
    assert all(h.score == 0.0 for h in outcome.cases[2:])


def test_the_verifier_decides_where_the_policy_would_decide_otherwise(
    encoder, index, policy, questions, trained_verifier, tmp_path: Path
):
    def policy_decision(text: str) -> str:
        return policy.decide(index, policy.examine_text(index, text)).decision

    reader = Retriever(
        encoder, policy.calibration, RetrievalSettings(), load_verifier(trained_verifier.folder)
    )
    held_back = next(t for t in questions if policy_decision(t) in ("confirm", "route"))
    suggested = next(t for t in questions if policy_decision(t) == "suggest")
    held_back_exam, suggested_exam = (reader.examine_text(index, t) for t in (held_back, suggested))
    p_held_back = float(np.nanmax(held_back_exam.verified))
    p_suggested = float(np.nanmax(suggested_exam.verified))

    def decided(exam: Examination, suggest: float, confirm: float, name: str) -> Outcome:
        verifier = with_thresholds(trained_verifier.folder, tmp_path / name, suggest, confirm)
        return Retriever(encoder, policy.calibration, RetrievalSettings(), verifier).decide(index, exam)

    # the policy holds it back; the verifier is sure enough at a suggest threshold of its score
    outcome = decided(held_back_exam, p_held_back, p_held_back, "suggest-at-its-score")
    assert outcome.decision == "suggest" and outcome.suggest_probability == p_held_back
    top = int(np.nanargmax(held_back_exam.verified))
    assert outcome.cases[0].case == held_back_exam.cases[top]
    assert decided(held_back_exam, NEVER, p_held_back, "confirm-at-its-score").decision == "confirm"

    # the policy suggests it; below the verifier's confirm threshold it goes to an expert
    above = min(p_suggested + 1e-6, NEVER)
    outcome = decided(suggested_exam, above, above, "confirm-above-its-score")
    assert outcome.decision == "route" and outcome.cases[0].score == p_suggested < above
    # reject stays the policy's
    assert (
        outcome.reject_probability
        == policy.decide(index, policy.examine_text(index, suggested)).reject_probability
    )
