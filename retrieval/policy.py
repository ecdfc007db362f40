"""Tunable numbers of retrieval; part of the service settings (``CRAFTDESK_RETRIEVAL__*``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RetrievalSettings(BaseModel):
    suggest_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="suggest when the top case's answer probability reaches this; "
        "default: the value calibrated with the model (retrieval/calibration.json)",
    )
    confirm_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="ask an expert to confirm the top case when its probability reaches this "
        "(below the suggest threshold); default: calibrated",
    )
    reject_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="reject when the off-topic probability reaches this; default: calibrated",
    )
    correct_typos: bool = Field(
        True,
        description="read a non-word that sounds like one word of the knowledge base as "
        "that word (液亚 -> 液压; retrieval/typos.py)",
    )
    use_verifier: bool = Field(
        False,
        description="when on, and a verifier is installed under <data dir>/verifier "
        "(scripts/train_verifier.py --install), the suggest/confirm decision on "
        "the top candidates is made by the verifier's probability and its own "
        "fitted thresholds (the reject decision stays the policy's); turn it on "
        "only once scripts/evaluate.py --verifier shows it beats the policy on "
        "the cross-set figure",
    )
    verifier_candidates: int = Field(
        3,
        ge=1,
        le=8,
        description="how many top candidates of the policy's order the verifier "
        "reads; each costs a cross-encoder pass, so keep it small",
    )
    class_match_threshold: float = Field(
        0.888154,
        ge=-1,
        le=1,
        description="a class is shown as 相关课程 when it is the question's closest class and "
        "their cosine reaches this (retrieval/classes.py); calibrated with "
        "scripts/calibrate_classes.py on knowledge/eval/class_pairs.jsonl: 176 pairs, 38 "
        "relevant; precision 0.939 (31 of 33, 95% lower bound 0.821), recall 0.816",
    )
    max_suggestions: int = Field(5, ge=1, le=20)
    max_experts: int = Field(3, ge=1, le=10, description="experts shown with an answer")
    route_candidates: int = Field(
        5, ge=1, le=20, description="ranked experts a ticket is offered to, one after another"
    )
    candidate_pool: int = Field(256, ge=10, description="dense neighbours looked at per question")
    case_credit_sharpness: float = Field(
        2.0, ge=0, description="how steeply a solved case's credit grows with its z-score"
    )
    profile_weight: float = Field(0.5, ge=0)
    region_bonus: float = Field(0.15, ge=0)
    enterprise_bonus: float = Field(
        0.3, ge=0, description="for an expert of the asking site's own enterprise whose skills fit"
    )
    fit_profile_z: float = Field(
        1.0,
        description="skills fit when the expert's profile similarity stands this many standard "
        "deviations above all experts' (chosen on questions derived from the cases: "
        "scripts/evaluate_routing.py)",
    )
    industry_bonus: float = Field(0.10, ge=0)
    load_penalty: float = Field(0.3, ge=0, description="subtracted at full load, pro rata below")
