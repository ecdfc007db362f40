"""A worker's tickets as a chat channel (Telegram) knows them: by the chat they were opened
from. In such a channel the chat, which the platform authenticates, stands where the web's
per-ticket token stands, so no token has to be kept around."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import NotFoundError
from knowledge.models import Ticket
from knowledge.states import Channel, TicketStatus


async def ticket_for_chat(session: AsyncSession, ticket_id: str, channel: Channel, chat_id: int) -> Ticket:
    """The ticket if it was opened from this chat; otherwise 'not found' (never says which)."""
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or ticket.channel != channel or ticket.worker_chat_id != chat_id:
        raise NotFoundError("no such ticket")
    return ticket


async def tickets_for_chat(
    session: AsyncSession, channel: Channel, chat_id: int, limit: int = 20
) -> list[Ticket]:
    """The chat's tickets, newest first."""
    return list(
        (
            await session.scalars(
                select(Ticket)
                .where(Ticket.channel == channel, Ticket.worker_chat_id == chat_id)
                .order_by(Ticket.created_at.desc())
                .limit(limit)
            )
        ).all()
    )


async def latest_open_ticket(session: AsyncSession, channel: Channel, chat_id: int) -> Ticket | None:
    """The newest ticket of the chat that is not closed (where a loose photo goes)."""
    return await session.scalar(
        select(Ticket)
        .where(
            Ticket.channel == channel, Ticket.worker_chat_id == chat_id, Ticket.status != TicketStatus.CLOSED
        )
        .order_by(Ticket.created_at.desc())
        .limit(1)
    )
