"""Expert side: a personal bearer token; only tickets assigned (or offered) to the caller."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.providers import IndexDep, RetrieverDep, SessionDep, TicketsDep
from bot.service.similar import similar_cases
from bot.web.deps import ExpertDep
from bot.web.present import expert_photos, expert_ticket, message_out, photo_response
from bot.web.schemas import AnswerRequest, ConfirmRequest, ExpertTicketOut, MessageOut, SuggestionOut
from bot.web.uploads import PHOTO_FORM, read_photo_form

router = APIRouter(prefix="/api/expert", tags=["expert"])


@router.get("/tickets", response_model=list[ExpertTicketOut])
async def my_tickets(expert: ExpertDep, tickets: TicketsDep, session: SessionDep) -> list[ExpertTicketOut]:
    held = await tickets.assigned_to(session, expert.id)
    return [await expert_ticket(session, t, expert.id, with_messages=False) for t in held]


@router.get("/tickets/{ticket_id}", response_model=ExpertTicketOut)
async def one_ticket(
    ticket_id: str, expert: ExpertDep, tickets: TicketsDep, session: SessionDep
) -> ExpertTicketOut:
    ticket = await tickets.for_expert(session, ticket_id, expert.id)
    return await expert_ticket(session, ticket, expert.id)


@router.get("/tickets/{ticket_id}/similar", response_model=list[SuggestionOut])
async def similar(
    ticket_id: str,
    expert: ExpertDep,
    tickets: TicketsDep,
    retriever: RetrieverDep,
    index: IndexDep,
    session: SessionDep,
) -> list[SuggestionOut]:
    """Past cases close to the ticket's question: a starting point for the answer."""
    ticket = await tickets.for_expert(session, ticket_id, expert.id)
    hits = await similar_cases(retriever, index, ticket.text)
    return [
        SuggestionOut(case_id=h.case.id, title=h.case.title, answer=h.case.answer, score=round(h.score, 4))
        for h in hits
    ]


@router.post("/tickets/{ticket_id}/claim", response_model=ExpertTicketOut)
async def claim(
    ticket_id: str, expert: ExpertDep, tickets: TicketsDep, session: SessionDep
) -> ExpertTicketOut:
    ticket = await tickets.claim(session, ticket_id, expert.id)
    return await expert_ticket(session, ticket, expert.id, with_messages=False)


@router.post("/tickets/{ticket_id}/decline")
async def decline(ticket_id: str, expert: ExpertDep, tickets: TicketsDep, session: SessionDep) -> dict:
    await tickets.decline(session, ticket_id, expert.id)
    return {"ticket_id": ticket_id, "declined": True}


@router.post("/tickets/{ticket_id}/confirm", response_model=ExpertTicketOut)
async def confirm(
    ticket_id: str, body: ConfirmRequest, expert: ExpertDep, tickets: TicketsDep, session: SessionDep
) -> ExpertTicketOut:
    """One tap on the proposed case: right (the worker gets it as the answer at once) or wrong
    (the ticket is yours to answer)."""
    ticket = await tickets.settle_proposal(session, ticket_id, expert.id, body.correct)
    return await expert_ticket(session, ticket, expert.id)


@router.post("/tickets/{ticket_id}/answer", status_code=201, response_model=MessageOut)
async def answer(
    ticket_id: str, body: AnswerRequest, expert: ExpertDep, tickets: TicketsDep, session: SessionDep
) -> MessageOut:
    message = await tickets.answer(session, ticket_id, expert.id, body.text)
    return message_out(message, expert_photos(ticket_id))


@router.post(
    "/tickets/{ticket_id}/photos", status_code=201, response_model=MessageOut, openapi_extra=PHOTO_FORM
)
async def answer_with_photo(
    ticket_id: str, request: Request, expert: ExpertDep, tickets: TicketsDep, session: SessionDep
) -> MessageOut:
    """An answer with a photo; the expert and the ticket are checked before the upload is read."""
    await tickets.for_expert(session, ticket_id, expert.id)
    data, text = await read_photo_form(request)
    message = await tickets.answer(session, ticket_id, expert.id, text, photo=data)
    return message_out(message, expert_photos(ticket_id))


@router.get("/tickets/{ticket_id}/photos/{name}")
async def get_photo(
    ticket_id: str,
    name: str,
    expert: ExpertDep,
    tickets: TicketsDep,
    session: SessionDep,
) -> Response:
    await tickets.for_expert(session, ticket_id, expert.id)
    return photo_response(await tickets.photos.read(ticket_id, name), name)
