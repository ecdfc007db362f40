"""Handler tests: the production dispatcher fed with updates (``dp.feed_update``), a mocked
bot session recording what the bot sends, the real service layer on the demo knowledge."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.methods import SendMessage
from aiogram.types import Update

from bot.context import bot_services
from bot.settings import Settings, TelegramSettings
from bot.telegram.dispatcher import get_dispatcher
from bot.telegram.notifier import TelegramNotifier
from bot.telegram.services import BotServices
from tests.utils import telegram_updates as updates
from tests.utils.mocked_bot import MockedBot

ADMIN_ID = 900001


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the service layer underneath is tested on PostgreSQL in tests/service."""
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"telegram": TelegramSettings(admin_ids=[ADMIN_ID])})


@pytest.fixture
def bot() -> MockedBot:
    return MockedBot()


@dataclass
class Talk:
    """People talking to the bot: each update goes through the production dispatcher."""

    dispatcher: Dispatcher
    bot: MockedBot
    context: Any
    services: BotServices  # what the handlers get, as in production (bot.context.bot_services)

    async def feed(self, update: Update) -> list[tuple[Any, Any]]:
        """Feed one update; the (request, result) pairs the bot made while handling it."""
        before = len(self.bot.session.requests)
        await self.dispatcher.feed_update(self.bot, update, **self.services.workflow_data())
        return self.bot.sent(since=before)

    async def say(self, chat_id: int, text: str | None = None, **kwargs: Any) -> list[tuple[Any, Any]]:
        return await self.feed(updates.message(chat_id, text, **kwargs))

    async def press(self, chat_id: int, data: str, message_id: int, **kwargs: Any) -> list[tuple[Any, Any]]:
        return await self.feed(updates.press(chat_id, data, message_id, **kwargs))

    async def delivered(
        self, chat_id: int, match: Callable[[str], bool], timeout: float = 10
    ) -> tuple[Any, Any]:
        """Wait for the outbox to send a matching message to ``chat_id``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for request, result in self.bot.sent(SendMessage, chat_id=chat_id):
                if match(request.text):
                    return request, result
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"nothing matching was sent to {chat_id}: "
            f"{[r.text for r, _ in self.bot.sent(SendMessage, chat_id=chat_id)]}"
        )


@pytest.fixture
async def talk(context, bot: MockedBot) -> Talk:
    """The demo context with the mocked bot's notifier on its outbox."""
    context.outbox.notifiers.append(
        TelegramNotifier(bot, context.sessions, context.tickets.photos, context.settings.telegram.admin_ids)
    )
    return Talk(get_dispatcher(), bot, context, bot_services(context))


def texts_of(calls: list[tuple[Any, Any]]) -> list[str]:
    return [request.text for request, _ in calls if isinstance(request, SendMessage)]


def buttons(request: Any) -> list[tuple[str, str]]:
    markup = request.reply_markup
    return [(b.text, b.callback_data) for row in markup.inline_keyboard for b in row] if markup else []
