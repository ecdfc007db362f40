"""What the worker says about an answer: a suggestion solved it, or a master should look."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.ask import AskService
from bot.service.labels import record_label
from bot.service.tickets import OpenedTicket, TicketService
from knowledge.errors import InvalidInputError, NotFoundError
from knowledge.models import Case, Question, Ticket
from knowledge.states import Channel, LabelSource


async def record_feedback(
    session: AsyncSession,
    tickets: TicketService,
    question_id: str,
    solved: bool,
    case_id: str | None,
    channel: Channel = Channel.WEB,
    worker_chat_id: int | None = None,
    worker_openid: str | None = None,
) -> OpenedTicket | None:
    """Store the verdict (and, on a shown case, a label); 'not solved' opens a ticket (a retry
    gets the same ticket); 'solved' by the case proposed on the question's ticket closes it."""
    async with tickets.gate.writing(session):
        question = await session.get(Question, question_id)
        if question is None:
            raise NotFoundError(f"no question with id {question_id!r}")
        if case_id is not None and await session.get(Case, case_id) is None:
            raise InvalidInputError(f"case_id: unknown case {case_id!r}")
        question.solved, question.solved_case_id = solved, case_id if solved else None
        if case_id is not None:
            await record_label(session, question_id, case_id, solved, LabelSource.WORKER, tickets.clock.now())
        await session.commit()
    if not solved:
        return await tickets.open_for_question(session, question_id, channel, worker_chat_id, worker_openid)
    ticket_id = await session.scalar(select(Ticket.id).where(Ticket.question_id == question_id))
    if ticket_id is not None and case_id is not None:
        await tickets.solved_by_proposal(session, ticket_id, case_id)
    return None


async def ask_and_open_ticket(
    session: AsyncSession,
    ask: AskService,
    tickets: TicketService,
    text: str,
    site_code: str | None,
    channel: Channel = Channel.WEB,
    worker_chat_id: int | None = None,
    asker: str | None = None,
    worker_openid: str | None = None,
) -> OpenedTicket:
    """A worker who wants a master straight away: the question is logged, then ticketed (a
    routed question already has its ticket from the same call)."""
    result = await ask.ask(session, text, site_code, channel, worker_chat_id, asker, worker_openid)
    if result.ticket is not None:
        return result.ticket
    return await tickets.open_for_question(
        session, result.question_id, channel, worker_chat_id, worker_openid
    )
