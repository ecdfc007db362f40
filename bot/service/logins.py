"""Login tokens of the people on the console pages (experts, stewards): one working token per
person, stored as its SHA-256, expiring; issuing a new one ends the earlier one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.clock import Clock
from bot.service.secrets import new_token, token_hash


async def issue_login(
    session: AsyncSession, tokens: Any, owner: str, owner_id: str, clock: Clock, valid_for: timedelta
) -> str:
    """A new token in ``tokens`` (ExpertToken, StewardToken) for ``owner`` (its owner column),
    committed; the earlier ones are deleted."""
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
