"""Login tokens of the people on the console pages (experts, stewards): one working token per
person, stored as its SHA-256, expiring; issuing a new one ends the earlier one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.clock import Clock
from bot.service.secrets import new_token, token_hash
from knowledge.errors import ConflictError, NotFoundError
from knowledge.models import Expert, Steward


async def issue_login(
    session: AsyncSession,
    people: type[Expert] | type[Steward],
    tokens: Any,
    owner: str,
    owner_id: str,
    clock: Clock,
    valid_for: timedelta,
) -> str:
    """A new token in ``tokens`` (ExpertToken, StewardToken) for the active person ``owner_id``
    of ``people`` (``owner``: the tokens' column naming them), committed; the earlier ones are
    deleted. 404 for nobody by that id, 409 for someone deactivated."""
    person: Expert | Steward | None = await session.get(people, owner_id)
    role = people.__name__.lower()
    if person is None:
        raise NotFoundError(f"no {role} with id {owner_id!r}")
    if not person.active:
        raise ConflictError(f"{role} {owner_id!r} is not active")
    column = getattr(tokens, owner)
    token, now = new_token(), clock.now()
    await session.execute(delete(tokens).where(column == owner_id))
    session.add(
        tokens(token_hash=token_hash(token), created_at=now, expires_at=now + valid_for, **{owner: owner_id})
    )
    await session.commit()
    return token


async def login_expiry(session: AsyncSession, tokens: Any, owner: str, now: datetime) -> dict[str, datetime]:
    """Each owner with a working token, and when it expires."""
    column = getattr(tokens, owner)
    rows = await session.execute(
        select(column, func.max(tokens.expires_at)).where(tokens.expires_at > now).group_by(column)
    )
    return {owner_id: expires for owner_id, expires in rows.all()}
