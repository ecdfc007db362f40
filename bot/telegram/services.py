"""What the bot's handlers, filters and middlewares use, handed to every update as aiogram's
workflow data: a handler names what it needs (``tickets: TicketService``, ``clock: Clock``) and
aiogram passes it by that name. Built by the composition root (``bot.context``); the dispatcher
itself holds no service and no state of a run."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.limits import Budget
from bot.service.ask import AskService
from bot.service.clock import Clock
from bot.service.needs import NeedsService
from bot.service.reindex import Reindexer
from bot.service.tickets import TicketService
from bot.settings import TelegramSettings


@dataclass(frozen=True)
class BotServices:
    ask: AskService
    tickets: TicketService
    needs: NeedsService
    reindexer: Reindexer
    clock: Clock
    sessions: async_sessionmaker[AsyncSession]  # one session per update (DbSessionMiddleware)
    bot_settings: TelegramSettings
    flood: Budget  # messages per user and minute (FloodMiddleware)
    public_url: str = ""  # the web pages' address (links to the classes page)

    def workflow_data(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
