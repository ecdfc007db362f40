"""``POST /api/admin/experts/{id}/telegram-link``: a one-time binding link for an expert."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI

from bot import texts
from bot.app import create_app
from bot.providers import get_settings
from bot.settings import TelegramSettings
from tests.telegram.conftest import Talk, texts_of
from tests.utils.auth import ADMIN
from tests.utils.http import providing


@pytest.fixture
def app(context) -> FastAPI:  # type: ignore[no-untyped-def]
    return create_app(context.settings, context)


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def with_username(app: FastAPI, context, username: str | None) -> None:  # type: ignore[no-untyped-def]
    """The app's settings with this bot username (the context keeps its own)."""
    app.dependency_overrides[get_settings] = providing(
        context.settings.model_copy(
            update={"telegram": TelegramSettings(bot_username=username, bind_code_minutes=30)}
        )
    )


async def test_an_admin_gets_a_link_that_binds_once(app, context, http: httpx.AsyncClient, talk: Talk):
    with_username(app, context, "@craftdesk_bot")
    response = await http.post("/api/admin/experts/E05/telegram-link", headers=ADMIN)
    assert response.status_code == 201
    body = response.json()
    prefix = "https://t.me/craftdesk_bot?start=bind-"
    assert body["link"].startswith(prefix)
    expires = datetime.fromisoformat(body["expires_at"])
    assert 29 * 60 < (expires - context.clock.now()).total_seconds() <= 30 * 60
    code = body["link"].removeprefix(prefix)
    assert len(code) >= 32 and len(f"bind-{code}") <= 64  # Telegram's deep-link limit
    assert "绑定成功" in texts_of(await talk.say(7001, f"/start bind-{code}"))[0]
    again = await http.post("/api/admin/experts/E05/telegram-link", headers=ADMIN)
    assert again.json()["link"] != body["link"]


async def test_a_new_link_revokes_the_unused_one(app, context, http: httpx.AsyncClient, talk: Talk):
    with_username(app, context, "craftdesk_bot")
    first = (await http.post("/api/admin/experts/E06/telegram-link", headers=ADMIN)).json()["link"]
    await http.post("/api/admin/experts/E06/telegram-link", headers=ADMIN)
    code = first.rsplit("=", 1)[1]
    assert texts_of(await talk.say(7002, f"/start {code}")) == [texts.TG_BIND_FAILED]


async def test_refusals(app, context, http: httpx.AsyncClient):
    assert (await http.post("/api/admin/experts/E01/telegram-link")).status_code == 401
    with_username(app, context, None)
    response = await http.post("/api/admin/experts/E01/telegram-link", headers=ADMIN)
    assert response.status_code == 409 and "CRAFTDESK_BOT_TOKEN" in response.json()["detail"]
    with_username(app, context, "craftdesk_bot")
    assert (await http.post("/api/admin/experts/NOPE/telegram-link", headers=ADMIN)).status_code == 404
