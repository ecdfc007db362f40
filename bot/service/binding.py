"""Tying an account to an expert by a one-time code an admin issues: a Telegram account (the
code in a ``t.me/<bot>?start=bind-<code>`` link) or a WeChat openid (``/wechat/bind/<code>``,
bot/service/wechat_links.py). The first account that uses a code before it expires becomes the
expert's. Only the code's SHA-256 is stored; each channel has its table of codes."""

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
from knowledge.models import Expert, TelegramBindCode, WeChatBindCode

BIND_PREFIX = "bind-"


@dataclass(frozen=True)
class BindCode:
    code: str  # shown once, in the link
    expires_at: datetime


def binding_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={BIND_PREFIX}{code}"


BindCodes = type[TelegramBindCode] | type[WeChatBindCode]


async def issue_code(
    session: AsyncSession, codes: BindCodes, expert_id: str, code: str, now: datetime, valid_for: timedelta
) -> BindCode:
    """Store ``code`` (its hash) as the expert's binding code in ``codes`` (a channel's table);
    the expert's earlier unused codes there stop working."""
    if await session.get(Expert, expert_id) is None:
        raise NotFoundError(f"no expert with id {expert_id!r}")
    await session.execute(delete(codes).where(codes.expert_id == expert_id, codes.used_at.is_(None)))
    expires = now + valid_for
    session.add(codes(code_hash=token_hash(code), expert_id=expert_id, created_at=now, expires_at=expires))
    await session.commit()
    return BindCode(code, expires)


async def redeem_code(
    session: AsyncSession, codes: BindCodes, code: str, account: str, used_by: int | str, now: datetime
) -> Expert:
    """Bind the account ``used_by`` (the expert's column ``account``: ``telegram_id``,
    ``wechat_openid``) to the code's expert. Unknown, used and expired codes are all 'not found'
    (never says which). Atomic: of two uses at once exactly one wins. An account bound to
    another expert before moves to this one."""
    code_hash = token_hash(code)
    # an UPDATE gives a CursorResult (AsyncSession.execute is typed with the plain Result)
    used = cast(
        "CursorResult[Any]",
        await session.execute(
            update(codes)
            .where(codes.code_hash == code_hash, codes.used_at.is_(None), codes.expires_at > now)
            .values(used_at=now, used_by=used_by)
            .execution_options(synchronize_session=False)
        ),
    )
    if used.rowcount != 1:
        await session.rollback()
        raise NotFoundError("the binding link is unknown, used or expired")
    expert_id = await session.scalar(select(codes.expert_id).where(codes.code_hash == code_hash))
    column = getattr(Expert, account)
    await session.execute(
        update(Expert)
        .where(column == used_by, Expert.id != expert_id)
        .values({account: None})
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    expert = await session.get(Expert, expert_id)
    if expert is None:  # deleted meanwhile (the code row would be gone too)
        await session.rollback()
        raise NotFoundError("the binding link is unknown, used or expired")
    setattr(expert, account, used_by)
    await session.commit()
    return expert


async def issue_bind_code(
    session: AsyncSession, expert_id: str, clock: Clock, valid_for: timedelta
) -> BindCode:
    """A new Telegram binding code for the expert (192 bits; deep-link safe: A-Z a-z 0-9 _ -)."""
    return await issue_code(
        session, TelegramBindCode, expert_id, secrets.token_urlsafe(24), clock.now(), valid_for
    )


async def redeem_bind_code(session: AsyncSession, code: str, telegram_id: int, clock: Clock) -> Expert:
    """Bind the Telegram account to the code's expert (``redeem_code``)."""
    return await redeem_code(session, TelegramBindCode, code, "telegram_id", telegram_id, clock.now())


async def expert_by_telegram(session: AsyncSession, telegram_id: int) -> Expert | None:
    """The active expert bound to this Telegram account (a deactivated one is a stranger)."""
    return await session.scalar(
        select(Expert).where(Expert.telegram_id == telegram_id, Expert.active.is_(True))
    )
