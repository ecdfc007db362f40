"""Steward accounts (服务管家): who they are, the sites their stations or regions cover, and the
login tokens an administrator issues them (stored hashed, expiring, one working token each)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.clock import Clock
from bot.service.logins import issue_login, login_expiry
from bot.service.secrets import token_hash
from knowledge.errors import InvalidInputError
from knowledge.models import Site, Station, Steward, StewardToken


async def save_steward(
    session: AsyncSession,
    clock: Clock,
    steward_id: str,
    name: str,
    station_ids: list[str],
    regions: list[str],
    active: bool = True,
) -> tuple[Steward, bool]:
    """Add or replace a steward; (the steward, whether created). A deactivated steward's tokens
    stop working at once."""
    name, station_ids = name.strip(), sorted({s.strip() for s in station_ids if s.strip()})
    regions = sorted({r.strip() for r in regions if r.strip()})
    if not name:
        raise InvalidInputError("name: required")
    if not station_ids and not regions:
        raise InvalidInputError("station_ids, regions: a steward needs at least one station or region")
    known = set((await session.scalars(select(Station.id).where(Station.id.in_(station_ids)))).all())
    if unknown := [s for s in station_ids if s not in known]:
        raise InvalidInputError(f"station_ids: no station with id {', '.join(map(repr, unknown))}")
    steward = await session.get(Steward, steward_id)
    created = steward is None
    if steward is None:
        steward = Steward(id=steward_id, created_at=clock.now())
        session.add(steward)
    steward.name, steward.station_ids, steward.regions, steward.active = name, station_ids, regions, active
    if not active:
        await session.execute(delete(StewardToken).where(StewardToken.steward_id == steward_id))
    await session.commit()
    return steward, created


async def issue_steward_token(
    session: AsyncSession, steward_id: str, clock: Clock, valid_for: timedelta
) -> str:
    """A new login token; the steward's earlier ones stop working."""
    return await issue_login(session, Steward, StewardToken, "steward_id", steward_id, clock, valid_for)


async def steward_login_expiry(session: AsyncSession, now: datetime) -> dict[str, datetime]:
    return await login_expiry(session, StewardToken, "steward_id", now)


async def steward_for_token(session: AsyncSession, token: str, clock: Clock) -> Steward | None:
    row = await session.get(StewardToken, token_hash(token))
    if row is None or row.expires_at <= clock.now():
        return None
    steward = await session.get(Steward, row.steward_id)
    return steward if steward is not None and steward.active else None


async def scope_sites(session: AsyncSession, steward: Steward) -> frozenset[str]:
    """The codes of the sites a steward looks after: those of their stations and regions."""
    conditions = []
    if steward.station_ids:
        conditions.append(Site.station.in_(steward.station_ids))
    if steward.regions:
        conditions.append(Site.region.in_(steward.regions))
    if not conditions:
        return frozenset()
    return frozenset((await session.scalars(select(Site.code).where(or_(*conditions)))).all())
