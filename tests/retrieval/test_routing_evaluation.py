"""Routing questions derived from the cases: asked at the solver's own enterprise and at an
enterprise of other industries, the case itself left out; the hand-written set loads."""

from __future__ import annotations

import json
from pathlib import Path

from retrieval.corpus import CaseDoc, Corpus, ExpertDoc
from retrieval.ranking import Availability, SiteContext
from retrieval.routing_evaluation import case_questions, load_routing

REPO = Path(__file__).resolve().parents[2]
EXPERTS = [
    ExpertDoc("E01", "何工", None, "电机厂", "邳州市", ("电力",), ("电机维修",), None),
    ExpertDoc("E02", "蒋工", None, "煤矿", "沛县", ("煤矿",), ("提升机",), None),
    ExpertDoc("E03", "沈工", None, "食品厂", "沛县", ("食品加工",), ("杀菌釜",), None),
]
SITES = {
    "motor-1": SiteContext("邳州市", "电力", "电机厂"),
    "mine-1": SiteContext("沛县", "煤矿", "煤矿"),
    "food-1": SiteContext("沛县", "食品加工", "食品厂"),
}


def case(id: str, expert_id: str | None) -> CaseDoc:
    return CaseDoc(id, "标题", f"{id} 的问题", "答案", None, expert_id)


def test_each_solved_case_is_asked_at_its_solvers_enterprise_and_at_an_unrelated_one():
    corpus = Corpus(cases=[case("K1", "E01"), case("K2", None), case("K3", "E02")], experts=EXPERTS)
    questions = case_questions(corpus, SITES, {"E02": Availability(active=False)})
    assert [(q.site, q.experts, q.same_enterprise, q.left_out) for q in questions] == [
        ("motor-1", ("E01",), True, "K1"),
        ("mine-1", ("E01",), False, "K1"),  # the mine's experts share no industry with E01's
    ]
    assert questions[0].text == "K1 的问题"  # an unsolved case and an inactive solver give none


def demo(name: str) -> list[dict]:
    text = (REPO / "knowledge" / "demo" / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_the_written_routing_set_names_known_sites_and_experts():
    questions = load_routing(REPO / "knowledge" / "eval" / "routing.jsonl")
    sites = {row["code"] for row in demo("sites.jsonl")}
    experts = {row["id"] for row in demo("experts.jsonl")}
    assert len(questions) >= 60 and sum(q.same_enterprise for q in questions) >= 25
    assert all(q.site in sites and q.experts and set(q.experts) <= experts for q in questions)
