"""The union's teams as a ticket's escalation path. A ticket nobody took moves, one tier at a
time, to the site's county team, the industry team of the site's industry, the city team, then
the admin queue; each team tier is offered to all its members at once (first claim wins).

A roster without teams routes as before: no county or industry tier, and the city tier is the
experts whose region is the city's (``TicketPolicy.city_region``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import Expert, Site, Team
from knowledge.states import TeamLevel, Tier

ORDER = (Tier.RANKED, Tier.COUNTY, Tier.INDUSTRY, Tier.CITY, Tier.ADMIN)
LEVEL = {Tier.COUNTY: TeamLevel.COUNTY, Tier.INDUSTRY: TeamLevel.INDUSTRY, Tier.CITY: TeamLevel.CITY}


@dataclass(frozen=True)
class TeamOffer:
    tier: Tier
    team: Team | None  # None: the city tier of a roster without teams
    members: list[str]  # expert ids, by id


async def team_for(session: AsyncSession, tier: Tier, site: Site | None) -> Team | None:
    """The team of ``tier`` for a question asked at ``site``: the county team of its region, the
    industry team of its industry, the city team."""
    teams = (await session.scalars(select(Team).where(Team.level == LEVEL[tier]).order_by(Team.id))).all()
    if tier == Tier.CITY:
        return teams[0] if teams else None
    if site is None:
        return None
    if tier == Tier.COUNTY:
        return next((t for t in teams if site.region and t.region == site.region), None)
    return next((t for t in teams if site.industry and site.industry in (t.industries or [])), None)


async def members(session: AsyncSession, team: Team) -> list[str]:
    experts = (await session.scalars(select(Expert).order_by(Expert.id))).all()
    return [e.id for e in experts if team.id in (e.team_ids or [])]


async def offers_after(
    session: AsyncSession, tier: Tier, site: Site | None, city_region: str
) -> list[TeamOffer]:
    """The team tiers after ``tier``, in order, each with its members (empty tiers left out)."""
    out = []
    for later in ORDER[ORDER.index(tier) + 1 : ORDER.index(Tier.ADMIN)]:
        team = await team_for(session, later, site)
        if team is not None:
            ids = await members(session, team)
        elif later == Tier.CITY:
            ids = list(
                await session.scalars(
                    select(Expert.id).where(Expert.region == city_region).order_by(Expert.id)
                )
            )
        else:
            continue
        if ids:
            out.append(TeamOffer(later, team, ids))
    return out
