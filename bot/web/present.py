"""Turning stored tickets into response bodies, one way for every route."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.schemas import ExpertCard, ExpertTicketOut, MessageOut, SiteOut, TicketOut
from knowledge.models import Expert, Site, Ticket, TicketMessage


async def expert_card(session: AsyncSession, expert_id: str | None) -> ExpertCard | None:
    expert = await session.get(Expert, expert_id) if expert_id else None
    if expert is None:
        return None
    return ExpertCard(expert_id=expert.id, name=expert.name, title=expert.title, org=expert.org,
                      region=expert.region)


async def messages(session: AsyncSession, ticket: Ticket, photo_base: str) -> list[MessageOut]:
    rows = (await session.scalars(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)
                                  .order_by(TicketMessage.id))).all()
    return [MessageOut(id=m.id, author=m.author, text=m.text,  # type: ignore[arg-type]
                       photo_url=f"{photo_base}/{m.photo}" if m.photo else None,
                       created_at=m.created_at.isoformat()) for m in rows]


async def worker_ticket(session: AsyncSession, ticket: Ticket) -> TicketOut:
    return TicketOut(
        ticket_id=ticket.id, status=ticket.status, created_at=ticket.created_at.isoformat(),
        expert=await expert_card(session, ticket.expert_id), rating=ticket.rating,
        messages=await messages(session, ticket, f"/api/tickets/{ticket.id}/photos"),
    )


async def expert_ticket(session: AsyncSession, ticket: Ticket, expert_id: str,
                        with_messages: bool = True) -> ExpertTicketOut:
    site = await session.get(Site, ticket.site_code) if ticket.site_code else None
    return ExpertTicketOut(
        ticket_id=ticket.id, status=ticket.status, tier=ticket.tier, text=ticket.text,
        site=SiteOut(code=site.code, name=site.name, region=site.region, industry=site.industry)
        if site else None,
        created_at=ticket.created_at.isoformat(),
        assigned_at=ticket.assigned_at.isoformat() if ticket.assigned_at else None,
        claimed=ticket.claimed_at is not None, held_by_you=ticket.expert_id == expert_id,
        messages=await messages(session, ticket, f"/api/expert/tickets/{ticket.id}/photos")
        if with_messages else [],
    )
