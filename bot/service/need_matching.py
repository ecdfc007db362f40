"""Who could help with a need: the experts the same ranking as a ticket's proposes (the problem
examined by the retriever, in a worker thread, with the need's region, industry and enterprise
as the site context, and the experts' availability), and the union's teams of the need's region
and industry, with their members. The steward chooses among them; nothing is assigned here."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.experts import expert_availability
from bot.service.teams import members
from knowledge.models import Expert, Need, Team
from knowledge.states import TeamLevel
from retrieval.corpus import expert_doc
from retrieval.holder import IndexHolder
from retrieval.ranking import Availability, SiteContext
from retrieval.search import Retriever

PROPOSED = 8  # experts shown to the steward
MAX_EXAMINED_CHARS = 2000  # as a question: a longer problem is read from its start


@dataclass(frozen=True)
class ProposedExpert:
    expert: Expert
    score: float
    availability: Availability


@dataclass(frozen=True)
class ProposedTeam:
    team: Team
    members: list[Expert]


@dataclass(frozen=True)
class Proposals:
    experts: list[ProposedExpert]
    teams: list[ProposedTeam]


async def propose(
    session: AsyncSession, need: Need, retriever: Retriever, index: IndexHolder, limit: int = PROPOSED
) -> Proposals:
    current = index.current
    text = need.problem[:MAX_EXAMINED_CHARS]
    # the encoder works in a thread while the availability and the experts are read
    examining = (
        asyncio.ensure_future(asyncio.to_thread(retriever.examine_text, current, text))
        if current is not None
        else None
    )
    try:
        availability = await expert_availability(session)
        experts = {e.id: e for e in (await session.scalars(select(Expert))).all()}
        context = SiteContext(region=need.region, industry=need.industry, org=need.enterprise)
        if examining is None or current is None:
            outcome = retriever.route_without_index(
                [expert_doc(e) for e in experts.values()], context, availability
            )
        else:
            outcome = retriever.decide(current, await examining, context, availability)
    finally:
        if examining is not None and not examining.done():
            examining.cancel()
    ranked = [
        ProposedExpert(experts[hit.expert.id], hit.score, availability.get(hit.expert.id, Availability()))
        for hit in outcome.experts
        if hit.expert.id in experts and experts[hit.expert.id].active
    ]
    return Proposals(ranked[:limit], await teams_for(session, need, experts))


async def teams_for(session: AsyncSession, need: Need, experts: dict[str, Expert]) -> list[ProposedTeam]:
    """The teams of the need's region (county, enterprise), of its industry, and the city team."""
    wanted: list[ColumnElement[bool]] = [Team.level.in_([TeamLevel.CITY, TeamLevel.INDUSTRY])]
    if need.region:
        wanted.append(Team.region == need.region)
    rows = (await session.scalars(select(Team).where(or_(*wanted)).order_by(Team.id))).all()
    chosen = [
        t
        for t in rows
        if t.level != TeamLevel.INDUSTRY
        or (need.industry is not None and need.industry in (t.industries or []))
    ]
    return [
        ProposedTeam(
            team, [experts[e] for e in await members(session, team) if e in experts and experts[e].active]
        )
        for team in chosen
    ]
