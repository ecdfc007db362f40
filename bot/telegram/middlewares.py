"""Per-update middlewares: a database session for the update, the per-user flood limit and the
order of one chat's updates. They read what they use from the workflow data (``BotServices``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.limits import Budget

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DbSessionMiddleware(BaseMiddleware):
    """One session per update, from the ``sessions`` factory, closed afterwards. Counts the
    updates in flight so that a shutdown can wait for them before the database goes."""

    def __init__(self) -> None:
        self.in_flight = 0  # a plain counter: the dispatcher outlives any one event loop

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        sessions: async_sessionmaker[AsyncSession] = data["sessions"]
        self.in_flight += 1
        try:
            async with sessions() as session:
                data["session"] = session
                return await handler(event, data)
        finally:
            self.in_flight -= 1

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until no update is being handled."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


class FloodMiddleware(BaseMiddleware):
    """At most ``flood_per_minute`` messages per user in any minute (the ``flood`` budget,
    shared by the instances when the limits are in Redis); past it one polite reply a minute
    (per process), and the messages are dropped."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock  # of the polite reply; the budget reads the wall clock
        self.warned: dict[int, float] = {}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        message = event.message if isinstance(event, Update) else None
        if message is None or message.from_user is None:
            return await handler(event, data)
        flood: Budget = data["flood"]
        user = message.from_user.id
        if await flood.take(str(user)) == 0:
            return await handler(event, data)
        now = self.clock()
        if now - self.warned.get(user, float("-inf")) >= 60:
            self.warned[user] = now
            if len(self.warned) > 100_000:
                self.warned.clear()
            await message.answer(texts.TG_FLOOD)
        return None


class ChatOrderMiddleware(BaseMiddleware):
    """Updates of one chat are handled one after another (chats in parallel), as Telegram
    sent them: a button pressed while the bot is still sending that message's siblings finds
    their records. One process's order; several webhook instances do not share it."""

    def __init__(self) -> None:
        self.locks: dict[int, asyncio.Lock] = {}
        self.users: dict[int, int] = {}  # updates holding or awaiting each lock

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        chat = data.get("event_chat")
        if chat is None:
            return await handler(event, data)
        lock = self.locks.setdefault(chat.id, asyncio.Lock())
        self.users[chat.id] = self.users.get(chat.id, 0) + 1
        try:
            async with lock:
                return await handler(event, data)
        finally:
            self.users[chat.id] -= 1
            if not self.users[chat.id]:  # nobody else: forget it (bounded memory)
                del self.users[chat.id], self.locks[chat.id]
