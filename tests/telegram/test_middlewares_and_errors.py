"""What every update goes through: the flood limit, the session, and the central error
handler (domain errors become a Chinese reply; anything else is logged and apologised for)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiogram.methods import SendMessage
from aiogram.types import Chat

from bot import texts
from bot.telegram.dispatcher import get_dispatcher
from bot.telegram.middlewares import ChatOrderMiddleware
from bot.telegram.routers import get_routers
from tests.telegram.conftest import Talk, texts_of


async def test_a_flood_gets_one_polite_reply_and_is_dropped(talk: Talk):
    per_minute = talk.context.settings.telegram.flood_per_minute
    for _ in range(per_minute):
        assert texts_of(await talk.say(4001, "/my")) == [texts.TG_MY_EMPTY]
    assert texts_of(await talk.say(4001, "/my")) == [texts.TG_FLOOD]
    assert texts_of(await talk.say(4001, "/my")) == []
    assert texts_of(await talk.say(4002, "/my")) == [texts.TG_MY_EMPTY]  # others are not affected


async def test_a_domain_error_becomes_a_reply(talk: Talk):
    assert texts_of(await talk.say(4003, "问" * 2001)) == [texts.TG_ERROR_INVALID]


async def test_an_unexpected_error_is_logged_and_apologised_for(talk: Talk, caplog: pytest.LogCaptureFixture):
    talk.bot.session.add_result_for(
        SendMessage, ok=False, error_code=500, description="Internal Server Error"
    )
    with caplog.at_level(logging.ERROR, logger="bot.telegram.errors"):
        calls = await talk.say(4004, "/start")
    assert texts_of(calls) == [texts.TG_WELCOME, texts.TG_ERROR_INTERNAL]
    record = next(r for r in caplog.records if r.name == "bot.telegram.errors")
    assert record.exc_info is not None and "Internal Server Error" in str(record.exc_info[1])


async def test_unknown_messages_get_the_welcome(talk: Talk):
    assert texts_of(await talk.say(4005, None, sticker=None, contact=None)) == [texts.TG_WELCOME]
    assert texts_of(await talk.say(4005, "/nonsense")) == [texts.TG_WELCOME]


def test_routers_come_in_audience_order():
    names = [router.name for router in get_routers()]
    assert names == [
        "bot.telegram.errors",
        "bot.telegram.admin",
        "bot.telegram.expert",
        "bot.telegram.binding",
        "bot.telegram.worker",
        "bot.telegram.fallback",
    ]
    assert get_dispatcher() is get_dispatcher()  # built once: a router has one parent


async def test_one_chat_is_handled_in_order_and_chats_in_parallel():
    order = ChatOrderMiddleware()
    events: list[str] = []

    async def handler(name: str, pause: float) -> None:
        events.append(f"{name} start")
        await asyncio.sleep(pause)
        events.append(f"{name} end")

    def run(chat_id: int, name: str, pause: float):  # type: ignore[no-untyped-def]
        return order(
            lambda event, data: handler(name, pause), None, {"event_chat": Chat(id=chat_id, type="private")}
        )

    await asyncio.gather(run(1, "a1", 0.05), run(1, "a2", 0), run(2, "b", 0))
    assert events.index("a1 end") < events.index("a2 start")
    assert events.index("b end") < events.index("a1 end")
    assert order.locks == {} and order.users == {}
