"""Live updates for the open pages: server-sent events (``text/event-stream``).

- ``GET /api/tickets/{id}/events`` (the worker; ``X-Ticket-Token`` as for ``GET
  /api/tickets/{id}``): ``event: ticket`` with the JSON of that GET, at the start and after each
  change of the ticket.
- ``GET /api/expert/events`` (an expert's bearer token): ``event: queue`` with ``{"tickets":
  [ids]}``, the tickets of the expert's queue that came, changed or left (all of them at the
  start); the console fetches what it shows (the queue, the open ticket) with its usual calls.
  A notice, not the queue itself: the queue is built only when the console asks for it.

The caller is checked before the stream starts (401/403/404 as the GET would answer, never a
byte of stream first), and an expert's stream checks the token again at most every keep-alive
interval: a revoked or expired login (a new link issued, the expert deactivated) ends it, and
the console's next call gets the 401. A silent stream sends ``: keep-alive`` every
``CRAFTDESK_EVENT_KEEPALIVE_SECONDS``, and ends after ``CRAFTDESK_EVENT_STREAM_SECONDS``: the page
reconnects (and falls back to polling when that keeps failing). The pages read the streams with
``fetch``, since ``EventSource`` cannot send the token headers and tokens must not go in URLs
(they would land in access logs). Streams take no turn of ``max_in_flight_requests``
(``bot.web.edge``); at most ``CRAFTDESK_MAX_EVENT_STREAMS`` are open per instance, beyond that
503 with ``Retry-After`` (the page polls meanwhile).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.providers import ClockDep, SessionDep, SessionsDep, SettingsDep, TicketFeedDep, TicketsDep
from bot.service.experts import expert_for_token
from bot.service.ticket_events import StreamTiming, TicketFeed, expert_queue, one_ticket
from bot.service.tickets import TicketService, get_ticket
from bot.settings import Settings
from bot.web.deps import AuthorizationHeader, ExpertDep, TicketToken, WeChatWorker, bearer
from bot.web.present import worker_ticket
from knowledge.errors import NotFoundError

router = APIRouter(prefix="/api", tags=["events"])

KEEPALIVE = b": keep-alive\n\n"
RETRY_AFTER_SECONDS = 30
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "the stream"}
}


def sse(event: str, data: str) -> bytes:
    """One event; ``data`` is compact JSON (one line: no raw line break can split it)."""
    return f"event: {event}\ndata: {data}\n\n".encode()


def timing(settings: Settings) -> StreamTiming:
    return StreamTiming(
        keepalive=settings.event_keepalive_seconds,
        lifetime=settings.event_stream_seconds,
        recheck=settings.event_recheck_seconds,
    )


def admit(feed: TicketFeed, settings: Settings) -> None:
    """503 with Retry-After when this instance has its most streams open."""
    if feed.streams >= settings.max_event_streams:
        raise HTTPException(
            503,
            "too many live-update streams open on this server; poll meanwhile",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


def stream(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream", headers=HEADERS)


@router.get("/tickets/{ticket_id}/events", response_class=StreamingResponse, responses=STREAM_DOC)
async def ticket_events(
    ticket_id: str,
    tickets: TicketsDep,
    feed: TicketFeedDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    session: SessionDep,
    openid: WeChatWorker,
    token: TicketToken = None,
) -> StreamingResponse:
    """The worker's ticket as it changes (``event: ticket``, the JSON of ``GET /api/tickets/{id}``);
    the same callers as that GET: the ticket's token, or the worker's WeChat sign-in."""
    await tickets.for_worker(session, ticket_id, token or "", openid)
    await session.close()  # the stream reads with sessions of its own: no connection held for minutes
    admit(feed, settings)

    async def body() -> AsyncIterator[bytes]:
        async with aclosing(feed.follow(one_ticket(ticket_id), timing(settings))) as changed:
            async for ids in changed:
                if ids is None:
                    yield KEEPALIVE
                    continue
                try:
                    yield sse("ticket", await _worker_view(sessions, tickets, ticket_id))
                except NotFoundError:  # deleted meanwhile: the page's next GET says so
                    return

    return stream(body())


async def _worker_view(
    sessions: async_sessionmaker[AsyncSession], tickets: TicketService, ticket_id: str
) -> str:
    async with sessions() as session:
        ticket = await get_ticket(session, ticket_id)
        view = await worker_ticket(session, ticket, await tickets.typical_wait_minutes(session))
    return view.model_dump_json()


@router.get("/expert/events", response_class=StreamingResponse, responses=STREAM_DOC)
async def expert_events(
    expert: ExpertDep,
    tickets: TicketsDep,
    feed: TicketFeedDep,
    settings: SettingsDep,
    session: SessionDep,
    sessions: SessionsDep,
    clock: ClockDep,
    authorization: AuthorizationHeader = None,
) -> StreamingResponse:
    """Which tickets of the expert's queue came, changed or left (``event: queue``), for as long
    as the expert's login holds."""
    expert_id, token = expert.id, bearer(authorization)
    await session.close()
    admit(feed, settings)

    async def signed_in() -> bool:
        async with sessions() as reading:
            still = await expert_for_token(reading, token, clock.now())
        return still is not None and still.id == expert_id

    async def body() -> AsyncIterator[bytes]:
        check_at = time.monotonic() + settings.event_keepalive_seconds
        async with aclosing(feed.follow(expert_queue(tickets, expert_id), timing(settings))) as changed:
            async for ids in changed:
                if time.monotonic() >= check_at:
                    if not await signed_in():
                        return
                    check_at = time.monotonic() + settings.event_keepalive_seconds
                yield KEEPALIVE if ids is None else sse("queue", json.dumps({"tickets": sorted(ids)}))

    return stream(body())
