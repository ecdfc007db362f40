"""The WeChat/WeCom emulator, started once per run and emptied for each test, and settings and
clients pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from bot.settings import WeChatSettings, WeComSettings
from bot.wechat.api import ServiceAccount, WeComApp
from tests.wechat import emulator as platform
from tests.wechat.emulator import WeChatEmulator


@pytest.fixture(scope="session")
def wechat_server() -> Iterator[WeChatEmulator]:
    server = WeChatEmulator()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def wechat(wechat_server: WeChatEmulator) -> WeChatEmulator:
    """The emulator with nothing issued, sent or switched on."""
    wechat_server.reset()
    return wechat_server


@pytest.fixture
def wechat_settings(wechat: WeChatEmulator) -> WeChatSettings:
    return WeChatSettings(
        app_id=platform.APP_ID,
        app_secret=SecretStr(platform.APP_SECRET),
        api_base=wechat.url,
        open_base=wechat.url,
        answer_template_id="tpl-answer",
        ticket_template_id="tpl-ticket",
    )


@pytest.fixture
def wecom_settings(wechat: WeChatEmulator) -> WeComSettings:
    return WeComSettings(
        corp_id=platform.CORP_ID,
        agent_id=platform.AGENT_ID,
        secret=SecretStr(platform.CORP_SECRET),
        api_base=wechat.url,
    )


@pytest.fixture
async def account(wechat_settings: WeChatSettings) -> AsyncIterator[ServiceAccount]:
    async with ServiceAccount(wechat_settings) as client:
        yield client


@pytest.fixture
async def wecom(wecom_settings: WeComSettings) -> AsyncIterator[WeComApp]:
    async with WeComApp(wecom_settings) as client:
        yield client
