"""The union's teams as a ticket's escalation path. A ticket nobody took moves, one tier at a
time, to the site's county team, the industry team of the site's industry, the city team, then
the admin queue; each team tier is offered to all its members at once (first claim wins).

A roster without teams routes as before: no county or industry tier, and the city tier is the
experts whose region is the city's (``TicketPolicy.city_region``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
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


def team_for(teams: Sequence[Team], tier: Tier, site: Site | None) -> Team | None:
    """The team of ``tier`` for a question asked at ``site`` (``teams``: every team, by id): the
    county team of its region, the industry team of its industry, the city team."""
    level = [t for t in teams if t.level == LEVEL[tier]]
    if tier == Tier.CITY:
        return level[0] if level else None
    if site is None:
        return None
    if tier == Tier.COUNTY:
        return next((t for t in level if site.region and t.region == site.region), None)
    return next((t for t in level if site.industry and site.industry in (t.industries or [])), None)


Memberships = list[tuple[str, list[str]]]  # every expert's id and team ids, by expert id


async def memberships(session: AsyncSession) -> Memberships:
    """Membership is a JSON list on the expert, which has no portable SQL test, so the ids and
    lists of every expert are read (once for all the tiers of one escalation)."""
    rows = (await session.execute(select(Expert.id, Expert.team_ids).order_by(Expert.id))).all()
    return [(expert_id, team_ids or []) for expert_id, team_ids in rows]


def members_of(team: Team, roster: Memberships) -> list[str]:
    return [expert_id for expert_id, team_ids in roster if team.id in team_ids]


async def members(session: AsyncSession, team: Team) -> list[str]:
    """The team's experts, by id."""
    return members_of(team, await memberships(session))


async def offers_after(
    session: AsyncSession, tier: Tier, site: Site | None, city_region: str
) -> AsyncGenerator[TeamOffer]:
    """The team tiers after ``tier``, in order, each with its members (empty tiers left out).
    Lazy: the caller stops at the first tier with a free member, so later tiers are not read."""
    teams = (await session.scalars(select(Team).order_by(Team.id))).all()
    roster: Memberships | None = None  # read at the first team tier, reused by the later ones
    for later in ORDER[ORDER.index(tier) + 1 : ORDER.index(Tier.ADMIN)]:
        team = team_for(teams, later, site)
        if team is not None:
            roster = roster if roster is not None else await memberships(session)
            ids = members_of(team, roster)
        elif later == Tier.CITY:
            ids = list(
                await session.scalars(
                    select(Expert.id).where(Expert.region == city_region).order_by(Expert.id)
                )
            )
        else:
            continue
        if ids:
            yield TeamOffer(later, team, ids)
