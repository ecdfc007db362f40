"""Needs as each side reads them in the API: the filer (no contacts of the experts), the steward
(the contact, the station, the proposals) and a matched expert (the contact once accepted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.need_matching import Proposals
from bot.service.needs import OPEN, matches_of
from bot.web.schemas_needs import (
    ExpertNeedOut,
    MatchedExpertOut,
    NeedOut,
    ProposedExpertOut,
    ProposedTeamOut,
    StaffNeedDetailOut,
    StaffNeedOut,
)
from knowledge.models import Need, NeedExpert, Station
from knowledge.states import MatchState


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _fields(session: AsyncSession, need: Need, photo_base: str, everyone: bool) -> dict[str, Any]:
    """The fields every view shares; ``everyone``: the experts who declined too."""
    matched = [
        MatchedExpertOut(expert_id=e.id, name=e.name, title=e.title, state=m.state)
        for m, e in await matches_of(session, need.id)
        if everyone or m.state != MatchState.DECLINED
    ]
    return {
        "need_id": need.id,
        "status": need.status,
        "station_id": need.station_id,
        "enterprise": need.enterprise,
        "industry": need.industry,
        "region": need.region,
        "problem": need.problem,
        "urgency": need.urgency,
        "help_wanted": need.help_wanted,
        "workers_affected": need.workers_affected,
        "photos": [f"{photo_base}/{need.id}/photos/{name}" for name in need.photos],
        "experts": matched,
        "help_mode": need.help_mode,
        "help_at": _iso(need.help_at),
        "help_place": need.help_place,
        "outcome": need.outcome,
        "outcome_note": need.outcome_note,
        "workers_helped": need.workers_helped,
        "created_at": need.created_at.isoformat(),
        "closed_at": _iso(need.closed_at),
        "can_withdraw": need.status in OPEN,
    }


async def filer_need(session: AsyncSession, need: Need) -> NeedOut:
    return NeedOut(**await _fields(session, need, "/api/needs", everyone=False))


async def staff_need(session: AsyncSession, need: Need) -> StaffNeedOut:
    station = await session.get(Station, need.station_id) if need.station_id else None
    return StaffNeedOut(
        **await _fields(session, need, "/api/admin/needs", everyone=True),
        contact_name=need.contact_name,
        contact_phone=need.contact_phone,
        station_name=station.name if station else None,
        published_case_id=need.published_case_id,
        version=need.version,
    )


async def staff_need_detail(session: AsyncSession, need: Need, proposals: Proposals) -> StaffNeedDetailOut:
    proposed = [
        ProposedExpertOut(
            expert_id=p.expert.id,
            name=p.expert.name,
            title=p.expert.title,
            region=p.expert.region,
            score=round(p.score, 4),
            available=p.availability.available,
            open_tickets=p.availability.open_tickets,
            max_open_tickets=p.availability.max_open_tickets,
        )
        for p in proposals.experts
    ]
    teams = [
        ProposedTeamOut(
            team_id=t.team.id,
            name=t.team.name,
            level=t.team.level,
            members=[
                MatchedExpertOut(expert_id=e.id, name=e.name, title=e.title, state=MatchState.ASKED)
                for e in t.members
            ],
        )
        for t in proposals.teams
    ]
    base = await staff_need(session, need)
    return StaffNeedDetailOut(**base.model_dump(), proposed=proposed, teams=teams)


async def expert_need(session: AsyncSession, need: Need, match: NeedExpert) -> ExpertNeedOut:
    accepted = match.state == MatchState.ACCEPTED
    return ExpertNeedOut(
        **await _fields(session, need, "/api/expert/needs", everyone=False),
        your_state=match.state,
        contact_name=need.contact_name if accepted else None,
        contact_phone=need.contact_phone if accepted else None,
    )
