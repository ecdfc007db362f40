"""A reply through the WeCom app: a text an expert sends the app (its callback, checked and
decrypted by the route) becomes their answer on the ticket they were last notified of.

Which ticket: the newest WeCom notification to the expert (a ticket given to them, or the
worker's follow-up) whose ticket they still hold, not closed. A ticket only offered to their
team, or none at all, takes no reply: answering stays in the console. WeCom retries a
callback it got no answer to within five seconds, so a ``MsgId`` seen before is dropped
(shared by every instance when Redis is set)."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.outbox import to_expert
from bot.service.tickets import TicketService
from bot.shared_state import SeenUpdates
from knowledge.models import ChannelDelivery, Expert, OutboxEvent, Ticket
from knowledge.states import EventKind, TicketStatus

log = logging.getLogger(__name__)

WECOM = "wecom"
NOTICES = (EventKind.ASSIGNED, EventKind.MESSAGE)  # about tickets the expert holds


async def replied_ticket(session: AsyncSession, expert_id: str) -> str | None:
    """The ticket a WeCom reply of the expert is about (see the module docstring)."""
    return await session.scalar(
        select(Ticket.id)
        .join(OutboxEvent, OutboxEvent.ticket_id == Ticket.id)
        .join(
            ChannelDelivery, (ChannelDelivery.event_id == OutboxEvent.id) & (ChannelDelivery.channel == WECOM)
        )
        .where(
            OutboxEvent.recipient == to_expert(expert_id),
            OutboxEvent.kind.in_(NOTICES),
            Ticket.expert_id == expert_id,
            Ticket.status.in_((TicketStatus.ASSIGNED, TicketStatus.ANSWERED)),
        )
        .order_by(OutboxEvent.id.desc())
        .limit(1)
    )


async def reply_from_wecom(
    session: AsyncSession, tickets: TicketService, seen: SeenUpdates, message: dict[str, str]
) -> str | None:
    """Answer with the message's text; the ticket answered, or None (not a text, seen before,
    not a bound expert, no ticket to reply to)."""
    text = (message.get("Content") or "").strip()
    if message.get("MsgType") != "text" or not text:
        return None
    key = f"wecom-msg:{message.get('MsgId') or ''}"
    if message.get("MsgId") and not await seen.begin(key):
        return None
    handled = False
    try:
        expert = await session.scalar(
            select(Expert).where(Expert.wecom_userid == message.get("FromUserName"), Expert.active.is_(True))
        )
        ticket_id = await replied_ticket(session, expert.id) if expert is not None else None
        if expert is None or ticket_id is None:
            log.info("wecom message not a reply to a ticket", extra={"from": message.get("FromUserName")})
            handled = True
            return None
        await tickets.answer(session, ticket_id, expert.id, text)
        handled = True
        return ticket_id
    finally:
        if message.get("MsgId"):
            await seen.finish(key, handled)
