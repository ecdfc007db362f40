"""Tying a Telegram account to an expert: an admin issues a one-time code (carried in a
``t.me/<bot>?start=bind-<code>`` link); the first account that uses it before it expires
becomes the expert's. Only the code's SHA-256 is stored."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.clock import Clock
from bot.service.secrets import token_hash
from knowledge.errors import NotFoundError
from knowledge.models import Expert, TelegramBindCode

BIND_PREFIX = "bind-"


@dataclass(frozen=True)
class BindCode:
    code: str  # shown once, in the link
    expires_at: datetime


def binding_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={BIND_PREFIX}{code}"


async def issue_bind_code(
    session: AsyncSession, expert_id: str, clock: Clock, valid_for: timedelta
) -> BindCode:
    """A new code for the expert; the expert's earlier unused codes stop working."""
    if await session.get(Expert, expert_id) is None:
        raise NotFoundError(f"no expert with id {expert_id!r}")
    code = secrets.token_urlsafe(24)  # 192 bits; deep-link safe (A-Z a-z 0-9 _ -)
    now = clock.now()
    await session.execute(
        delete(TelegramBindCode).where(
            TelegramBindCode.expert_id == expert_id, TelegramBindCode.used_at.is_(None)
        )
    )
    session.add(
        TelegramBindCode(
            code_hash=token_hash(code), expert_id=expert_id, created_at=now, expires_at=now + valid_for
        )
    )
    await session.commit()
    return BindCode(code, now + valid_for)


async def redeem_bind_code(session: AsyncSession, code: str, telegram_id: int, clock: Clock) -> Expert:
    """Bind the account to the code's expert. Unknown, used and expired codes are all 'not
    found' (never says which). Atomic: of two uses at once exactly one wins. An account bound
    to another expert before moves to this one."""
    now = clock.now()
    code_hash = token_hash(code)
    # an UPDATE gives a CursorResult (AsyncSession.execute is typed with the plain Result)
    used = cast(
        "CursorResult[Any]",
        await session.execute(
            update(TelegramBindCode)
            .where(
                TelegramBindCode.code_hash == code_hash,
                TelegramBindCode.used_at.is_(None),
                TelegramBindCode.expires_at > now,
            )
            .values(used_at=now, used_by=telegram_id)
            .execution_options(synchronize_session=False)
        ),
    )
    if used.rowcount != 1:
        await session.rollback()
        raise NotFoundError("the binding link is unknown, used or expired")
    expert_id = await session.scalar(
        select(TelegramBindCode.expert_id).where(TelegramBindCode.code_hash == code_hash)
    )
    await session.execute(
        update(Expert)
        .where(Expert.telegram_id == telegram_id, Expert.id != expert_id)
        .values(telegram_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    expert = await session.get(Expert, expert_id)
    if expert is None:  # deleted meanwhile (the code row would be gone too)
        await session.rollback()
        raise NotFoundError("the binding link is unknown, used or expired")
    expert.telegram_id = telegram_id
    await session.commit()
    return expert


async def expert_by_telegram(session: AsyncSession, telegram_id: int) -> Expert | None:
    """The active expert bound to this Telegram account (a deactivated one is a stranger)."""
    return await session.scalar(
        select(Expert).where(Expert.telegram_id == telegram_id, Expert.active.is_(True))
    )
