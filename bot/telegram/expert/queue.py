"""``/queue``: the tickets the expert holds or is offered, one message each with its
buttons, so a ticket assigned before the account was bound can be answered here too."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.service.tickets import TicketService
from bot.telegram import present, store
from bot.telegram.keyboards import ticket_keyboard
from knowledge.models import Expert, Site
from knowledge.states import Audience

router = Router(name=__name__)
MAX_LISTED = 10


@router.message(Command("queue"))
async def queue(message: Message, expert: Expert, tickets: TicketService, session: AsyncSession) -> None:
    held = await tickets.assigned_to(session, expert.id)
    if not held:
        await message.answer(texts.TG_QUEUE_EMPTY)
        return
    await message.answer(present.queue(held))
    for ticket in held[:MAX_LISTED]:
        site = await session.get(Site, ticket.site_code) if ticket.site_code else None
        sent = await message.answer(
            present.expert_ticket(ticket.id, ticket.text, site, team=present.team_tier(ticket)),
            reply_markup=ticket_keyboard(ticket.id) if ticket.claimed_at is None else None,
        )
        await store.remember_message(
            session, message.chat.id, sent.message_id, Audience.EXPERT, ticket_id=ticket.id
        )
