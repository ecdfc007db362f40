"""What the Telegram channel keeps in the database: each worker chat's site, the records
of sent messages that buttons and replies point back to, and the events already delivered."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.roster import active_site
from knowledge.models import Expert, Site, TelegramChat, TelegramDelivery, TelegramMessage


async def chat_site(session: AsyncSession, chat_id: int) -> str | None:
    return await session.scalar(select(TelegramChat.site_code).where(TelegramChat.chat_id == chat_id))


async def remember_site(session: AsyncSession, chat_id: int, code: str) -> Site | None:
    """Remember the chat's site; an unknown or deactivated code changes nothing and gives None."""
    site = await active_site(session, code)
    if site is None:
        return None
    chat = await session.get(TelegramChat, chat_id)
    if chat is None:
        session.add(TelegramChat(chat_id=chat_id, site_code=site.code))
    else:
        chat.site_code = site.code
    await session.commit()
    return site


async def remember_message(
    session: AsyncSession,
    chat_id: int,
    message_id: int,
    audience: str,
    *,
    question_id: str | None = None,
    case_id: str | None = None,
    ticket_id: str | None = None,
) -> None:
    await session.merge(
        TelegramMessage(
            chat_id=chat_id,
            message_id=message_id,
            audience=audience,
            question_id=question_id,
            case_id=case_id,
            ticket_id=ticket_id,
        )
    )
    await session.commit()


async def recorded(
    session: AsyncSession, chat_id: int, message_id: int, audience: str
) -> TelegramMessage | None:
    record = await session.get(TelegramMessage, (chat_id, message_id))
    return record if record is not None and record.audience == audience else None


async def was_delivered(session: AsyncSession, event_id: int) -> bool:
    return await session.get(TelegramDelivery, event_id) is not None


async def mark_delivered(session: AsyncSession, event_id: int) -> None:
    session.add(TelegramDelivery(event_id=event_id))
    try:
        await session.commit()
    except IntegrityError:  # another instance delivered it at the same moment
        await session.rollback()


async def experts_by_id(session: AsyncSession, ids: set[str]) -> dict[str, Expert]:
    if not ids:
        return {}
    return {e.id: e for e in (await session.scalars(select(Expert).where(Expert.id.in_(ids)))).all()}
