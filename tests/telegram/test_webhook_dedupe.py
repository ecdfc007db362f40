"""Telegram's redelivery of an update (same ``update_id``, after a slow or lost answer) is
acknowledged and not handled twice: one ticket, one reply. Within one instance the ids are kept
in memory; with Redis, across instances (two webhook channels, as two app instances)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiogram.methods import SendMessage
from sqlalchemy import func, select

from bot import texts
from bot.app import create_app
from bot.context import bot_services
from bot.providers import get_telegram
from bot.settings import TelegramSettings
from bot.shared_state import DONE_SECONDS, HANDLING_SECONDS, MemorySeenUpdates, SeenUpdates, SharedState
from bot.telegram import webhook
from bot.telegram.channel import TelegramChannel
from knowledge.models import Ticket
from tests.telegram.helpers import ROUTED
from tests.utils import telegram_updates as updates
from tests.utils.http import FakeTime, providing
from tests.utils.mocked_bot import MockedBot

URL = "https://help.example.org/telegram/webhook"


class Instances:
    """``count`` webhook instances of the context's app, each with its own channel, all with
    the one ``seen`` store (memory: one process; Redis: several)."""

    def __init__(self, context, bot: MockedBot, seen: SeenUpdates):  # type: ignore[no-untyped-def]
        self.context, self.bot, self.seen = context, bot, seen
        self.channels: list[TelegramChannel] = []
        self.clients: list[httpx.AsyncClient] = []

    async def start(self, count: int) -> None:
        settings = self.context.settings.model_copy(
            update={"telegram": TelegramSettings(bot_token="42:TEST", webhook_url=URL)}
        )
        for _ in range(count):
            channel = TelegramChannel(settings, self.context.sessions, bot=self.bot, seen_updates=self.seen)
            app = create_app(self.context.settings, self.context)
            app.dependency_overrides[get_telegram] = providing(channel)
            await channel.start(bot_services(self.context))
            self.channels.append(channel)
            self.clients.append(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            )

    async def post(self, n: int, update: dict) -> httpx.Response:
        headers = {webhook.SECRET_HEADER: self.channels[n].secret_token}
        return await self.clients[n].post(webhook.WEBHOOK_PATH, json=update, headers=headers)

    async def stop(self) -> None:
        for client in self.clients:
            await client.aclose()
        for channel in self.channels:
            await channel.stop()


@pytest.fixture
async def instances(context, bot: MockedBot) -> AsyncIterator[Instances]:  # type: ignore[no-untyped-def]
    running = Instances(context, bot, MemorySeenUpdates())
    yield running
    await running.stop()


def routed(chat_id: int) -> dict:
    return updates.message(chat_id, ROUTED).model_dump(mode="json", by_alias=True, exclude_none=True)


async def tickets_of(context, chat_id: int) -> int:  # type: ignore[no-untyped-def]
    async with context.sessions() as session:
        return await session.scalar(select(func.count()).where(Ticket.worker_chat_id == chat_id)) or 0


def announcements(bot: MockedBot, chat_id: int) -> int:
    return sum(
        texts.TG_TICKET_HINT in (request.text or "") for request, _ in bot.sent(SendMessage, chat_id=chat_id)
    )


async def test_the_same_update_twice_opens_one_ticket(instances: Instances, context, bot: MockedBot):
    await instances.start(1)
    update = routed(7001)
    assert (await instances.post(0, update)).status_code == 200
    assert (await instances.post(0, update)).status_code == 200  # acknowledged, so Telegram stops
    assert await tickets_of(context, 7001) == 1 and announcements(bot, 7001) == 1
    other = routed(7001)  # a new update (new id) with the same text is a new question
    assert (await instances.post(0, other)).status_code == 200
    assert await tickets_of(context, 7001) == 2


async def test_a_redelivery_while_the_first_is_handled_is_dropped(
    instances: Instances, context, bot: MockedBot
):
    await instances.start(1)
    update = routed(7002)
    codes = await asyncio.gather(*(instances.post(0, update) for _ in range(3)))
    assert [response.status_code for response in codes] == [200, 200, 200]
    assert await tickets_of(context, 7002) == 1 and announcements(bot, 7002) == 1


@pytest.mark.redis
async def test_with_redis_a_redelivery_to_another_instance_is_dropped(
    context, bot: MockedBot, redis_url: str
):
    shared = SharedState.open(redis_url)
    running = Instances(context, bot, shared.updates)
    try:
        await running.start(2)
        update = routed(7003)
        assert (await running.post(0, update)).status_code == 200
        assert (await running.post(1, update)).status_code == 200  # Telegram retried elsewhere
        assert await tickets_of(context, 7003) == 1 and announcements(bot, 7003) == 1
        assert await shared.updates.begin("42:other") is True
        await shared.updates.finish("42:other", handled=False)  # failed: Telegram's retry is handled
        assert await shared.updates.begin("42:other") is True
    finally:
        await running.stop()
        await shared.close()


async def test_in_memory_ids_expire_and_stay_bounded():
    clock = FakeTime()
    seen = MemorySeenUpdates(clock=clock, size=3)
    assert await seen.begin("1") and not await seen.begin("1")
    clock.advance(HANDLING_SECONDS)  # the first delivery's instance died mid-update
    assert await seen.begin("1")
    await seen.finish("1", handled=True)
    clock.advance(DONE_SECONDS - 1)
    assert not await seen.begin("1")
    await seen.finish("2", handled=False)
    for key in ("2", "3", "4", "5"):
        assert await seen.begin(key)
    assert list(seen.until) == ["3", "4", "5"]  # the oldest forgotten first
