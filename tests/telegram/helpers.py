"""Steps several Telegram tests share."""

from __future__ import annotations

from sqlalchemy import select

from bot import texts
from knowledge.models import Expert, Ticket
from tests.telegram.conftest import Talk

SUGGESTED = "数控车床一开机就报SV0401，急停松开了复位也没用"  # the demo's case K001
ROUTED = "车床开机报SV0417是怎么回事"  # a look-alike alarm: no case answers it
REJECTED = "食堂今天中午几点开饭啊"


async def open_ticket(talk: Talk, chat_id: int, text: str = ROUTED) -> tuple[Ticket, int]:
    """A routed question from the chat; the ticket and the id of the bot's announcement."""
    calls = await talk.say(chat_id, text)
    announcement = next(result for request, result in calls if texts.TG_TICKET_HINT in (request.text or ""))
    async with talk.context.sessions() as session:
        ticket = await session.scalar(
            select(Ticket).where(Ticket.worker_chat_id == chat_id).order_by(Ticket.created_at.desc())
        )
    assert ticket is not None
    return ticket, announcement.message_id


async def bind(talk: Talk, expert_id: str, telegram_id: int | None) -> None:
    """Tie an account to an expert directly (the binding link has its own tests)."""
    async with talk.context.sessions() as session:
        expert = await session.get(Expert, expert_id)
        assert expert is not None
        expert.telegram_id = telegram_id
        await session.commit()


async def load_ticket(talk: Talk, ticket_id: str) -> Ticket:
    async with talk.context.sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket
