"""Turning stored tickets into response bodies, one way for every route."""

from __future__ import annotations

from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.experts import expert_names
from bot.service.photo_store import media_type
from bot.service.tickets import OpenedTicket, worker_stage
from bot.web.schemas import (
    ExpertCard,
    ExpertTicketOut,
    MessageOut,
    OpenedTicketOut,
    ProposedCaseOut,
    SiteOut,
    TicketOut,
)
from knowledge.models import Case, Expert, Site, Ticket, TicketMessage


def card(expert: Expert | None) -> ExpertCard | None:
    if expert is None:
        return None
    return ExpertCard(
        expert_id=expert.id, name=expert.name, title=expert.title, org=expert.org, region=expert.region
    )


async def expert_card(session: AsyncSession, expert_id: str | None) -> ExpertCard | None:
    return card(await session.get(Expert, expert_id) if expert_id else None)


async def opened_ticket_out(session: AsyncSession, opened: OpenedTicket) -> OpenedTicketOut:
    """The expert read when the ticket was opened, when it was (no second transaction)."""
    expert = (
        card(opened.expert)
        if opened.expert is not None and opened.expert.id == opened.ticket.expert_id
        else await expert_card(session, opened.ticket.expert_id)
    )
    return OpenedTicketOut(
        ticket_id=opened.ticket.id, token=opened.token, status=opened.ticket.status, expert=expert
    )


def worker_photos(ticket_id: str) -> str:
    return f"/api/tickets/{ticket_id}/photos"


def expert_photos(ticket_id: str) -> str:
    return f"/api/expert/tickets/{ticket_id}/photos"


def message_out(message: TicketMessage, photo_base: str) -> MessageOut:
    """One message; its photo as a URL under ``photo_base`` (the caller's own photo route)."""
    return MessageOut(
        id=message.id,
        author=message.author,
        text=message.text,
        photo_url=f"{photo_base}/{message.photo}" if message.photo else None,
        created_at=message.created_at.isoformat(),
    )


def photo_response(data: bytes, name: str) -> Response:
    """A stored photo (``nosniff`` is added to every response at the edge, bot/web/edge.py);
    private: only the ticket's or need's own people may see it."""
    return Response(data, media_type=media_type(name), headers={"Cache-Control": "private, max-age=86400"})


async def messages(session: AsyncSession, ticket: Ticket, photo_base: str) -> list[MessageOut]:
    rows = (
        await session.scalars(
            select(TicketMessage).where(TicketMessage.ticket_id == ticket.id).order_by(TicketMessage.id)
        )
    ).all()
    return [message_out(m, photo_base) for m in rows]


async def proposed_case(session: AsyncSession, ticket: Ticket) -> ProposedCaseOut | None:
    case = await session.get(Case, ticket.proposed_case_id) if ticket.proposed_case_id else None
    if case is None or ticket.proposal is None:
        return None
    solvers = await expert_names(session, [case.expert_id])
    return ProposedCaseOut(
        case_id=case.id,
        title=case.title,
        answer=case.answer,
        state=ticket.proposal,
        solved_by=solvers.get(case.expert_id or ""),
    )


async def worker_ticket(session: AsyncSession, ticket: Ticket, typical_wait: int | None = None) -> TicketOut:
    return TicketOut(
        ticket_id=ticket.id,
        status=ticket.status,
        created_at=ticket.created_at.isoformat(),
        expert=await expert_card(session, ticket.expert_id),
        stage=worker_stage(ticket),
        claimed=ticket.claimed_at is not None,
        has_answer=ticket.first_answer_at is not None,
        typical_wait_minutes=typical_wait,
        rating=ticket.rating,
        proposed_case=await proposed_case(session, ticket),
        messages=await messages(session, ticket, worker_photos(ticket.id)),
    )


async def expert_ticket(
    session: AsyncSession, ticket: Ticket, expert_id: str, with_messages: bool = True
) -> ExpertTicketOut:
    site = await session.get(Site, ticket.site_code) if ticket.site_code else None
    return ExpertTicketOut(
        ticket_id=ticket.id,
        status=ticket.status,
        tier=ticket.tier,
        text=ticket.text,
        site=SiteOut(code=site.code, name=site.name, region=site.region, industry=site.industry)
        if site
        else None,
        created_at=ticket.created_at.isoformat(),
        assigned_at=ticket.assigned_at.isoformat() if ticket.assigned_at else None,
        claimed=ticket.claimed_at is not None,
        held_by_you=ticket.expert_id == expert_id,
        proposed_case=await proposed_case(session, ticket),
        messages=await messages(session, ticket, expert_photos(ticket.id)) if with_messages else [],
    )
