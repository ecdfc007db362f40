"""Worker side of tickets: no login, each ticket guarded by its own token."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from bot.providers import AskDep, SessionDep, TicketsDep
from bot.service.feedback import ask_and_open_ticket, record_feedback
from bot.web.deps import TicketToken, WebAsker, WeChatWorker, rate_limited
from bot.web.present import message_out, opened_ticket_out, photo_response, worker_photos, worker_ticket
from bot.web.schemas import (
    CloseRequest,
    FeedbackRequest,
    FeedbackResponse,
    MessageOut,
    MessageRequest,
    OpenedTicketOut,
    TicketOut,
    TicketRequest,
)
from bot.web.uploads import PHOTO_FORM, read_photo_form
from knowledge.errors import InvalidInputError

router = APIRouter(prefix="/api", tags=["worker"])


@router.post(
    "/questions/{question_id}/feedback",
    response_model=FeedbackResponse,
    dependencies=[Depends(rate_limited("tickets"))],
)
async def feedback(
    question_id: str, body: FeedbackRequest, tickets: TicketsDep, session: SessionDep, openid: WeChatWorker
) -> FeedbackResponse:
    """解决了 (solved) or 没解决 (not solved: a ticket for an expert is opened)."""
    ticket = await record_feedback(
        session, tickets, question_id, body.solved, body.case_id, worker_openid=openid
    )
    return FeedbackResponse(
        question_id=question_id,
        solved=body.solved,
        ticket=await opened_ticket_out(session, ticket) if ticket else None,
    )


@router.post(
    "/tickets",
    status_code=201,
    response_model=OpenedTicketOut,
    responses={
        200: {
            "description": "the question already had this ticket (a retry): "
            "the same ticket with a new working token"
        }
    },
    dependencies=[Depends(rate_limited("tickets"))],
)
async def open_ticket(
    body: TicketRequest,
    tickets: TicketsDep,
    ask: AskDep,
    session: SessionDep,
    response: Response,
    asker: WebAsker,
    openid: WeChatWorker,
) -> OpenedTicketOut:
    if body.question_id is not None:
        ticket = await tickets.open_for_question(session, body.question_id, worker_openid=openid)
    elif body.text is not None:
        ticket = await ask_and_open_ticket(
            session, ask, tickets, body.text, body.site, asker=asker, worker_openid=openid
        )
    else:
        raise InvalidInputError("give question_id, or text (and site)")
    if not ticket.created:
        response.status_code = 200
    return await opened_ticket_out(session, ticket)


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
async def get_ticket(
    ticket_id: str, tickets: TicketsDep, session: SessionDep, openid: WeChatWorker, token: TicketToken = None
) -> TicketOut:
    ticket = await tickets.for_worker(session, ticket_id, token or "", openid)
    return await worker_ticket(session, ticket, await tickets.typical_wait_minutes(session))


@router.post(
    "/tickets/{ticket_id}/messages",
    status_code=201,
    response_model=MessageOut,
    dependencies=[Depends(rate_limited("messages"))],
)
async def write(
    ticket_id: str,
    body: MessageRequest,
    tickets: TicketsDep,
    session: SessionDep,
    openid: WeChatWorker,
    token: TicketToken = None,
) -> MessageOut:
    ticket = await tickets.for_worker(session, ticket_id, token or "", openid)
    message = await tickets.worker_writes(session, ticket, body.text)
    return message_out(message, worker_photos(ticket_id))


@router.post(
    "/tickets/{ticket_id}/photos",
    status_code=201,
    response_model=MessageOut,
    dependencies=[Depends(rate_limited("messages"))],
    openapi_extra=PHOTO_FORM,
)
async def send_photo(
    ticket_id: str,
    request: Request,
    tickets: TicketsDep,
    session: SessionDep,
    openid: WeChatWorker,
    token: TicketToken = None,
) -> MessageOut:
    """A photo (JPEG/PNG/WebP, at most 10 MB) with an optional caption; the token is checked
    before the upload is read."""
    ticket = await tickets.for_worker(session, ticket_id, token or "", openid)
    data, text = await read_photo_form(request)
    message = await tickets.worker_writes(session, ticket, text, photo=data)
    return message_out(message, worker_photos(ticket_id))


@router.get("/tickets/{ticket_id}/photos/{name}")
async def get_photo(
    ticket_id: str,
    name: str,
    tickets: TicketsDep,
    session: SessionDep,
    openid: WeChatWorker,
    token: TicketToken = None,
) -> Response:
    await tickets.for_worker(session, ticket_id, token or "", openid)
    return photo_response(await tickets.photos.read(ticket_id, name), name)


@router.post("/tickets/{ticket_id}/close", response_model=TicketOut)
async def close(
    ticket_id: str,
    body: CloseRequest,
    tickets: TicketsDep,
    session: SessionDep,
    openid: WeChatWorker,
    token: TicketToken = None,
) -> TicketOut:
    ticket = await tickets.for_worker(session, ticket_id, token or "", openid)
    await tickets.close(session, ticket, body.rating)
    return await worker_ticket(session, ticket)
