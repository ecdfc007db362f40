"""How well a question reaches the right expert, on labelled routing questions: each names the
site it was asked at and the experts who are right as the first choice (skills first, then the
site's own enterprise, then its county). Two sources:

- ``knowledge/eval/routing.jsonl``, written from the roster alone by another hand (the headline);
- questions derived from the cases (``case_questions``): each case's question asked at a site of
  its solver's enterprise, and at a site of an enterprise whose experts share no industry with
  the case; the solver is right, and the case itself gives no credit (left out). The ranking's
  own-enterprise bonus and fit rule were chosen on these.

Besides top-1 and top-3 overall, questions where an expert of the site's own enterprise is right
are reported on their own, and so is the ranking's stability: whether the first choice is still
right when the expert ranked first already holds one open ticket (a second worker asking the
same minute must not be sent across the city for that).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from retrieval.corpus import Corpus
from retrieval.index import KnowledgeIndex
from retrieval.ranking import Availability, SiteContext
from retrieval.search import Retriever


@dataclass(frozen=True)
class RoutingQuery:
    id: str
    text: str
    site: str
    experts: tuple[str, ...]  # right as the first choice
    same_enterprise: bool  # one of them belongs to the site's enterprise
    left_out: str | None = None  # a case that gives its solver no credit (it is the question)


def load_routing(path: Path) -> list[RoutingQuery]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        RoutingQuery(r["id"], r["text"], r["site"], tuple(r["experts"]), bool(r["same_enterprise"]))
        for r in rows
    ]


def case_questions(
    corpus: Corpus, sites: dict[str, SiteContext], availability: dict[str, Availability]
) -> list[RoutingQuery]:
    """Routing questions derived from the knowledge base (see the module's docstring)."""
    experts = {e.id: e for e in corpus.experts}
    industries_of: dict[str, set[str]] = {}
    for e in corpus.experts:
        if e.org:
            industries_of.setdefault(e.org, set()).update(e.industries)
    out = []
    for case in corpus.cases:
        solver = experts.get(case.expert_id or "")
        if solver is None or not availability.get(solver.id, Availability()).available:
            continue
        own = [code for code, s in sites.items() if s.org and s.org == solver.org]
        unrelated = [
            code
            for code, s in sites.items()
            if s.org and s.org != solver.org and not industries_of.get(s.org, set()) & set(solver.industries)
        ]
        for code, same in ((own[:1], True), (unrelated[:1], False)):
            out += [
                RoutingQuery(f"{case.id}@{c}", case.question, c, (solver.id,), same, case.id) for c in code
            ]
    return out


@dataclass(frozen=True)
class RoutingFigures:
    questions: int
    top1: float
    top3: float
    top1_with_one_open_ticket: float  # the expert first ranked holds one open ticket more


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else float("nan")


def judge_routing(
    retriever: Retriever,
    index: KnowledgeIndex,
    queries: list[RoutingQuery],
    sites: dict[str, SiteContext],
    availability: dict[str, Availability],
) -> dict[str, RoutingFigures]:
    """Figures for all questions, for "same enterprise available" ones and for the others."""
    rankings: list[list[str]] = []
    loaded: list[list[str]] = []
    for q in queries:
        exam = retriever.examine_text(index, q.text)
        if q.left_out:
            kept = [i for i, case in enumerate(exam.pool_cases) if case.id != q.left_out]
            exam = replace(
                exam,
                pool_cases=[exam.pool_cases[i] for i in kept],
                pool_similarity=exam.pool_similarity[kept],
            )
        site = sites.get(q.site)
        ranked = [h.expert.id for h in retriever.decide(index, exam, site, availability).experts]
        rankings.append(ranked)
        first = availability.get(ranked[0], Availability()) if ranked else None
        busier = dict(availability)
        if ranked and first is not None:
            busier[ranked[0]] = replace(first, open_tickets=first.open_tickets + 1)
        loaded.append([h.expert.id for h in retriever.decide(index, exam, site, busier).experts])

    def figures(members: list[int]) -> RoutingFigures:
        return RoutingFigures(
            questions=len(members),
            top1=_share([rankings[i][:1] != [] and rankings[i][0] in queries[i].experts for i in members]),
            top3=_share([bool(set(rankings[i][:3]) & set(queries[i].experts)) for i in members]),
            top1_with_one_open_ticket=_share(
                [loaded[i][:1] != [] and loaded[i][0] in queries[i].experts for i in members]
            ),
        )

    everyone = list(range(len(queries)))
    return {
        "all": figures(everyone),
        "same enterprise available": figures([i for i in everyone if queries[i].same_enterprise]),
        "other": figures([i for i in everyone if not queries[i].same_enterprise]),
    }
