"""What the composition root (``bot.context.open_context``) provides to HTTP handlers, one typed
FastAPI dependency each: a handler names the services it uses (``TicketsDep``, ``AskDep``, ...)
and a test replaces one with ``app.dependency_overrides[get_tickets] = ...``. Used by the web
routes and by the Telegram webhook alike, so neither channel imports the other.

The dependencies are coroutines even where they do not await: FastAPI runs a plain function in
its thread pool, a hop that costs more than the work itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.limits import Budget
from bot.service.ask import AskService
from bot.service.classes import ClassCatalogue
from bot.service.clock import Clock
from bot.service.needs import NeedsService
from bot.service.publishing import Publisher
from bot.service.reindex import Reindexer
from bot.service.signups import DoorCodes
from bot.service.ticket_events import TicketFeed
from bot.service.tickets import TicketService
from bot.settings import Settings
from bot.shared_state import SeenUpdates
from bot.wechat.channel import WeChatChannel
from knowledge.db import WriteGate
from retrieval.holder import IndexHolder
from retrieval.search import Retriever

if TYPE_CHECKING:
    from bot.context import AppContext


class TelegramEntry(Protocol):
    """What HTTP handlers need of the Telegram channel (the webhook, binding links), without
    importing aiogram into the web app."""

    @property
    def webhook_mode(self) -> bool: ...

    @property
    def secret_token(self) -> str: ...

    @property
    def bot_id(self) -> int: ...

    @property
    def seen_updates(self) -> SeenUpdates: ...

    async def feed(self, raw: dict[str, Any]) -> None: ...

    async def username(self) -> str: ...


def _context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


async def get_settings(request: Request) -> Settings:
    return _context(request).settings


async def get_clock(request: Request) -> Clock:
    return _context(request).clock


async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return _context(request).sessions


async def get_session(
    sessions: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)],
) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        yield session


async def get_ask(request: Request) -> AskService:
    return _context(request).ask


async def get_tickets(request: Request) -> TicketService:
    return _context(request).tickets


async def get_needs(request: Request) -> NeedsService:
    return _context(request).needs


async def get_publisher(request: Request) -> Publisher:
    return _context(request).publisher


async def get_reindexer(request: Request) -> Reindexer:
    return _context(request).reindexer


async def get_retriever(request: Request) -> Retriever:
    return _context(request).retriever


async def get_index(request: Request) -> IndexHolder:
    return _context(request).index


async def get_limits(request: Request) -> dict[str, Budget]:
    return _context(request).limits


async def get_telegram(request: Request) -> TelegramEntry | None:
    return _context(request).telegram


async def get_wechat(request: Request) -> WeChatChannel | None:
    """The WeChat channel (service account, WeCom); None when neither is configured."""
    return _context(request).wechat


async def get_classes(request: Request) -> ClassCatalogue:
    catalogue = _context(request).classes
    if catalogue is None:
        raise RuntimeError("the class catalogue was not opened")
    return catalogue


async def get_door(request: Request) -> DoorCodes:
    door = _context(request).door
    if door is None:
        raise RuntimeError("the door codes were not opened")
    return door


async def get_ticket_feed(request: Request) -> TicketFeed:
    feed = _context(request).ticket_feed
    if feed is None:
        raise RuntimeError("the ticket feed was not opened")
    return feed


async def get_gate(request: Request) -> WriteGate:
    """The process's SQLite write gate (the ticket service holds it)."""
    return _context(request).tickets.gate


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
AskDep = Annotated[AskService, Depends(get_ask)]
TicketsDep = Annotated[TicketService, Depends(get_tickets)]
NeedsDep = Annotated[NeedsService, Depends(get_needs)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]
ReindexerDep = Annotated[Reindexer, Depends(get_reindexer)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
IndexDep = Annotated[IndexHolder, Depends(get_index)]
LimitsDep = Annotated[dict[str, Budget], Depends(get_limits)]
TelegramDep = Annotated[TelegramEntry | None, Depends(get_telegram)]
ClassesDep = Annotated[ClassCatalogue, Depends(get_classes)]
DoorDep = Annotated[DoorCodes, Depends(get_door)]
GateDep = Annotated[WriteGate, Depends(get_gate)]
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
TicketFeedDep = Annotated[TicketFeed, Depends(get_ticket_feed)]
WeChatDep = Annotated[WeChatChannel | None, Depends(get_wechat)]
