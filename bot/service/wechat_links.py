"""Experts on WeChat and WeCom: tying a WeChat account (openid) to an expert by a one-time
link, as the Telegram binding does; the single-use console links in their notifications; their
WeCom user id. Codes are shown once and stored only as their SHA-256."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.binding import BindCode, issue_code, redeem_code
from bot.service.clock import Clock
from bot.service.secrets import new_token, token_hash
from bot.service.validation import clean_text
from knowledge.errors import ConflictError, InvalidInputError, NotFoundError
from knowledge.models import Expert, ExpertLinkCode, ExpertToken, Steward, WeChatBindCode

BIND_MINUTES = 24 * 60  # how long a WeChat binding link works
LINK_MINUTES = 15  # how long a notification's console link works (once)
LINK_LOGIN_DAYS = 30  # the console login a notification's link gives that phone
_CODE_BYTES = 16  # hex in the link and in the OAuth state (40 bytes at most): 128 bits


@dataclass(frozen=True)
class ConsoleEntry:
    token: str  # a new expert login token for the phone that opened the link
    ticket_id: str | None


def bind_path(code: str) -> str:
    return f"/wechat/bind/{code}"


def enter_path(code: str) -> str:
    return f"/expert/enter/{code}"


async def issue_wechat_bind_code(
    session: AsyncSession,
    expert_id: str,
    clock: Clock,
    valid_for: timedelta = timedelta(minutes=BIND_MINUTES),
) -> BindCode:
    """A new WeChat binding code for the expert (hex: it rides in the OAuth state)."""
    code = secrets.token_hex(_CODE_BYTES)
    return await issue_code(session, WeChatBindCode, expert_id, code, clock.now(), valid_for)


async def redeem_wechat_bind_code(session: AsyncSession, code: str, openid: str, clock: Clock) -> Expert:
    """Bind the openid to the code's expert (``bot.service.binding.redeem_code``)."""
    return await redeem_code(session, WeChatBindCode, code, "wechat_openid", openid, clock.now())


async def issue_link_code(session: AsyncSession, expert_id: str, ticket_id: str | None, now: datetime) -> str:
    """A code for one notification's console link (single use, ``LINK_MINUTES``), committed."""
    code = secrets.token_urlsafe(24)
    session.add(
        ExpertLinkCode(
            code_hash=token_hash(code),
            expert_id=expert_id,
            ticket_id=ticket_id,
            expires_at=now + timedelta(minutes=LINK_MINUTES),
        )
    )
    await session.commit()
    return code


async def enter_console(session: AsyncSession, code: str, clock: Clock) -> ConsoleEntry:
    """Use a notification's link: a new console login for this phone (the expert's other
    logins keep working), and the ticket it was about. Unknown, used and expired codes, and a
    deactivated expert, are 'not found'."""
    now, code_hash = clock.now(), token_hash(code or "")
    used = cast(
        "CursorResult[Any]",
        await session.execute(
            update(ExpertLinkCode)
            .where(
                ExpertLinkCode.code_hash == code_hash,
                ExpertLinkCode.used_at.is_(None),
                ExpertLinkCode.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    row = await session.get(ExpertLinkCode, code_hash) if used.rowcount == 1 else None
    expert = await session.get(Expert, row.expert_id) if row is not None else None
    if row is None or expert is None or not expert.active:
        await session.rollback()
        raise NotFoundError("the link is unknown, used or expired")
    token = new_token()
    await session.execute(
        delete(ExpertToken).where(ExpertToken.expert_id == expert.id, ExpertToken.expires_at <= now)
    )
    session.add(
        ExpertToken(
            token_hash=token_hash(token),
            expert_id=expert.id,
            created_at=now,
            expires_at=now + timedelta(days=LINK_LOGIN_DAYS),
        )
    )
    await session.commit()
    return ConsoleEntry(token, row.ticket_id)


MAX_USERID_CHARS = 64


def clean_wecom_userid(userid: str | None) -> str | None:
    """A WeCom user id (通讯录 账号) as given; None or blank: unset."""
    cleaned = clean_text(userid or "", "userid", MAX_USERID_CHARS, "WeCom user id", allow_empty=True) or None
    if cleaned is not None and any(ch.isspace() or ch == "|" for ch in cleaned):
        raise InvalidInputError("userid: a WeCom user id has no spaces or '|'")
    return cleaned


W = TypeVar("W", Expert, Steward)


async def _set_wecom(session: AsyncSession, model: type[W], row_id: str, userid: str | None, what: str) -> W:
    """``row_id``'s WeCom user id; None or blank unsets it. 409 when another one has it."""
    row = await session.get(model, row_id)
    if row is None:
        raise NotFoundError(f"no {what} with id {row_id!r}")
    cleaned = clean_wecom_userid(userid)
    if cleaned is not None:
        holder = await session.scalar(
            select(model.id).where(model.wecom_userid == cleaned, model.id != row_id)
        )
        if holder is not None:
            raise ConflictError(f"userid: the WeCom user id {cleaned!r} belongs to {what} {holder!r}")
    row.wecom_userid = cleaned
    await session.commit()
    return row


async def set_wecom_userid(session: AsyncSession, expert_id: str, userid: str | None) -> Expert:
    """The expert's WeCom user id (the expert events reach it as text cards)."""
    return await _set_wecom(session, Expert, expert_id, userid, "expert")


async def set_steward_wecom_userid(session: AsyncSession, steward_id: str, userid: str | None) -> Steward:
    """The steward's WeCom user id (escalated tickets of their scope reach it)."""
    return await _set_wecom(session, Steward, steward_id, userid, "steward")
