"""Webhook mode: updates posted to /telegram/webhook are handled only with the secret token
given to setWebhook; anything else is 401."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from aiogram.methods import SendMessage, SetWebhook
from fastapi import FastAPI

from bot import texts
from bot.app import create_app
from bot.context import bot_services
from bot.providers import get_telegram
from bot.settings import TelegramSettings
from bot.telegram import webhook
from bot.telegram.channel import TelegramChannel
from tests.utils import telegram_updates as updates
from tests.utils.http import providing
from tests.utils.mocked_bot import MockedBot
from tests.utils.wait import eventually

URL = "https://help.example.org/telegram/webhook"


@pytest.fixture
def app(context) -> FastAPI:  # type: ignore[no-untyped-def]
    return create_app(context.settings, context)


@pytest.fixture
async def channel(app: FastAPI, context, bot: MockedBot) -> AsyncIterator[TelegramChannel]:  # type: ignore[no-untyped-def]
    """A channel in webhook mode, given to the app in place of the context's (none)."""
    settings = context.settings.model_copy(
        update={"telegram": TelegramSettings(bot_token="42:TEST", webhook_url=URL)}
    )
    channel = TelegramChannel(settings, context.sessions, bot=bot)
    app.dependency_overrides[get_telegram] = providing(channel)
    await channel.start(bot_services(context))
    yield channel
    await channel.stop()


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def start_update(chat_id: int) -> dict:
    return updates.message(chat_id, "/start xcmg-hv-3").model_dump(
        mode="json", by_alias=True, exclude_none=True
    )


async def wait_until_set(bot: MockedBot) -> SetWebhook:
    async def sent() -> object:
        return bot.sent(SetWebhook)

    calls = await eventually(sent, timeout=5, what="setWebhook was called")
    return calls[0][0]  # type: ignore[index]  # eventually returns what check returned


async def test_the_webhook_is_registered_with_a_secret(channel: TelegramChannel, bot: MockedBot):
    request = await wait_until_set(bot)
    assert request.url == URL and request.secret_token == channel.secret_token
    assert len(channel.secret_token) >= 32


@pytest.mark.parametrize("headers", [{}, {webhook.SECRET_HEADER: "wrong"}, {"X-Other": "x"}])
async def test_updates_without_the_secret_are_401(channel, http: httpx.AsyncClient, bot: MockedBot, headers):
    response = await http.post(webhook.WEBHOOK_PATH, json=start_update(6001), headers=headers)
    assert response.status_code == 401
    assert bot.sent(SendMessage) == []


async def test_an_update_with_the_secret_is_handled(
    channel: TelegramChannel, http: httpx.AsyncClient, bot: MockedBot
):
    response = await http.post(
        webhook.WEBHOOK_PATH, json=start_update(6002), headers={webhook.SECRET_HEADER: channel.secret_token}
    )
    assert response.status_code == 200
    assert "徐工重型 三号车间" in bot.sent(SendMessage, chat_id=6002)[0][0].text


async def test_a_body_that_is_no_update_is_400_even_with_the_secret(channel, http: httpx.AsyncClient):
    response = await http.post(
        webhook.WEBHOOK_PATH, content=b"[1, 2", headers={webhook.SECRET_HEADER: channel.secret_token}
    )
    assert response.status_code == 400


async def test_no_webhook_without_webhook_mode(http: httpx.AsyncClient, bot: MockedBot):
    response = await http.post(
        webhook.WEBHOOK_PATH, json=start_update(6003), headers={webhook.SECRET_HEADER: "anything"}
    )
    assert response.status_code == 404
    assert bot.session.requests == []


async def test_hostile_bodies_get_4xx_and_odd_text_a_reply_never_a_5xx(
    channel: TelegramChannel, http: httpx.AsyncClient, bot: MockedBot
):
    secret = {webhook.SECRET_HEADER: channel.secret_token, "Content-Type": "application/json"}
    oversized = await http.post(
        webhook.WEBHOOK_PATH, content=b"{" + b" " * (64 * 1024) + b"}", headers=secret
    )
    no_update = await http.post(webhook.WEBHOOK_PATH, json={"update_id": "x", "message": 5}, headers=secret)
    assert (oversized.status_code, no_update.status_code) == (413, 400)
    await http.post(webhook.WEBHOOK_PATH, json=start_update(6004), headers=secret)
    for n, text in enumerate(("\ud800 主轴异响", "报警\u0000", "\u200b\u200b")):
        raw = updates.message(6004, "placeholder").model_dump(mode="json", by_alias=True, exclude_none=True)
        raw["update_id"] += 100 + n
        raw["message"]["text"] = text
        answered = await http.post(webhook.WEBHOOK_PATH, content=json.dumps(raw).encode(), headers=secret)
        assert answered.status_code == 200
    replies = [request.text for request, _ in bot.sent(SendMessage, chat_id=6004)]
    assert replies.count(texts.TG_ERROR_INVALID) == 3
