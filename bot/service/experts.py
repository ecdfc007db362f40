"""Experts as the services see them: who can take a ticket now, and who a token belongs to."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.clock import Clock
from bot.service.logins import issue_login, login_expiry
from bot.service.secrets import token_hash
from knowledge.models import Expert, ExpertToken, Ticket
from knowledge.states import TicketStatus
from retrieval.ranking import Availability

OCCUPYING = (TicketStatus.ASSIGNED,)  # tickets that occupy an expert until answered


async def open_ticket_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(Ticket.expert_id, func.count())
        .where(Ticket.status.in_(OCCUPYING), Ticket.expert_id.is_not(None))
        .group_by(Ticket.expert_id)
    )
    return {expert_id: count for expert_id, count in rows.all() if expert_id is not None}  # none: see WHERE


async def expert_names(session: AsyncSession, expert_ids: Iterable[str | None]) -> dict[str, str]:
    """Names of the given experts (one query; unknown and None ids left out): who solved a case."""
    wanted = {e for e in expert_ids if e}
    if not wanted:
        return {}
    rows = await session.execute(select(Expert.id, Expert.name).where(Expert.id.in_(wanted)))
    return {expert_id: name for expert_id, name in rows.all()}


async def experts_with_load(session: AsyncSession) -> list[tuple[Expert, int]]:
    """Every expert (by id) with the tickets they hold open now, for the admin pages."""
    counts = await open_ticket_counts(session)
    experts = (await session.scalars(select(Expert).order_by(Expert.id))).all()
    return [(expert, counts.get(expert.id, 0)) for expert in experts]


@functools.cache
def _availability_query() -> Select[str, bool, int, int]:
    """Each expert with the tickets they hold open now, in one statement (built once: the
    statement and its cache key are reused by every ticket opened)."""
    open_tickets = (
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.expert_id == Expert.id, Ticket.status.in_(OCCUPYING))
        .correlate(Expert)
        .scalar_subquery()
    )
    return select(Expert.id, Expert.active, Expert.max_open_tickets, open_tickets)


async def expert_availability(session: AsyncSession) -> dict[str, Availability]:
    """Every expert's state: active, open tickets, capacity (one query: it runs inside the
    write gate for every ticket opened)."""
    rows = await session.execute(_availability_query())
    return {
        expert_id: Availability(active=active, open_tickets=open_tickets, max_open_tickets=max_open)
        for expert_id, active, max_open, open_tickets in rows.all()
    }


class AvailabilityCache:
    """Availability for ranking the experts shown with an answer, re-read at most every
    ``ttl`` seconds: the hot path then skips two queries, and a load figure a second old ranks
    as well. Assigning a ticket always reads the current state, never this cache."""

    def __init__(self, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._value: dict[str, Availability] | None = None
        self._read_at = 0.0
        self._reading = asyncio.Lock()  # one refresh at a time: a rush reads it once, not N times

    async def get(self, session: AsyncSession) -> dict[str, Availability]:
        if self._value is None or self.clock() - self._read_at >= self.ttl:
            await session.connection()  # before the lock, never while holding it (see WriteGate)
            async with self._reading:
                if self._value is None or self.clock() - self._read_at >= self.ttl:
                    self._value, self._read_at = await expert_availability(session), self.clock()
        return self._value


async def issue_token(session: AsyncSession, expert_id: str, clock: Clock, valid_for: timedelta) -> str:
    """A new personal token for the expert, expiring after ``valid_for``; earlier ones stop working."""
    return await issue_login(session, Expert, ExpertToken, "expert_id", expert_id, clock, valid_for)


async def expert_login_expiry(session: AsyncSession, now: datetime) -> dict[str, datetime]:
    """Each expert with a working login token, and when it expires."""
    return await login_expiry(session, ExpertToken, "expert_id", now)


async def expert_for_token(session: AsyncSession, token: str, now: datetime) -> Expert | None:
    """The active expert the token belongs to; None for an unknown, expired or revoked token
    or a deactivated expert."""
    row = await session.get(ExpertToken, token_hash(token))
    if row is None or row.expires_at <= now:
        return None
    expert = await session.get(Expert, row.expert_id)
    return expert if expert is not None and expert.active else None
