"""What several worker handlers share: announcing an opened ticket."""

from __future__ import annotations

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram import present, store
from knowledge.models import Expert, Ticket
from knowledge.states import Audience


async def announce_ticket(bot: Bot, chat_id: int, session: AsyncSession, ticket: Ticket) -> None:
    """Tell the worker who has the ticket; the message is recorded so that replying to it
    adds to the ticket's thread."""
    expert = await session.get(Expert, ticket.expert_id) if ticket.expert_id else None
    sent = await bot.send_message(chat_id, present.ticket_opened(expert))
    await store.remember_message(session, chat_id, sent.message_id, Audience.WORKER, ticket_id=ticket.id)
