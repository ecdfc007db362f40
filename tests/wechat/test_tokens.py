"""Access tokens: fetched once for many calls, refreshed before they expire and when the
platform refuses one, shared between instances through Redis."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from bot.settings import WeChatSettings
from bot.shared_state import SharedState
from bot.wechat.api import ServiceAccount, WeComApp
from bot.wechat.errors import PlatformError, TokenRejected
from bot.wechat.tokens import MARGIN_SECONDS, TokenCache

FIELDS = {"thing1": "数控车床报警", "time2": "2026-11-02 08:00"}


async def send(account: ServiceAccount, openid: str = "o-worker") -> int:
    return await account.send_template(openid, "tpl-answer", "https://help.example.org/t/1", FIELDS)


class Seconds:
    """A monotonic clock that moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_many_sends_share_one_token(account: ServiceAccount, wechat):
    await asyncio.gather(*(send(account, f"o-{n}") for n in range(10)))
    await send(account)
    assert wechat.calls["/cgi-bin/token"] == 1
    assert len(wechat.messages("template")) == 11


async def test_a_token_is_fetched_again_five_minutes_before_it_expires(wechat_settings, wechat):
    clock = Seconds()
    async with ServiceAccount(wechat_settings, clock=clock) as account:
        await send(account)
        clock.now += 7200 - MARGIN_SECONDS - 1
        await send(account)
        assert wechat.calls["/cgi-bin/token"] == 1
        clock.now += 2
        await send(account)
        assert wechat.calls["/cgi-bin/token"] == 2


async def test_an_expired_token_is_refreshed_and_the_call_made_once_more(account: ServiceAccount, wechat):
    await send(account)
    wechat.expire_tokens()
    await send(account, "o-after")  # 42001, a new token, the same call again: it goes out
    assert wechat.calls["/cgi-bin/token"] == 2
    assert wechat.calls["/cgi-bin/message/template/send"] == 3
    assert [m["touser"] for m in wechat.messages()] == ["o-worker", "o-after"]


async def test_concurrent_callers_refused_together_fetch_one_new_token(account: ServiceAccount, wechat):
    await send(account)
    wechat.expire_tokens()
    await asyncio.gather(*(send(account, f"o-{n}") for n in range(5)))
    assert wechat.calls["/cgi-bin/token"] == 2
    assert len(wechat.messages()) == 6


async def test_a_token_refused_again_after_the_refresh_is_not_tried_a_third_time(
    account: ServiceAccount, wechat
):
    wechat.refuse_all_tokens = True
    with pytest.raises(TokenRejected) as refused:
        await send(account)
    assert refused.value.errcode == 40001
    assert wechat.calls["/cgi-bin/token"] == 2 and wechat.calls["/cgi-bin/message/template/send"] == 2


async def test_a_wrong_secret_says_which_setting_and_never_shows_it(wechat_settings, wechat):
    wrong = wechat_settings.model_copy(update={"app_secret": SecretStr("wrong-secret-5e1f")})
    async with ServiceAccount(wrong) as account:
        with pytest.raises(PlatformError) as refused:
            await send(account)
    assert refused.value.errcode == 40001
    assert "CRAFTDESK_WECHAT__APP_SECRET" in str(refused.value)
    assert "wrong-secret-5e1f" not in str(refused.value)
    assert wechat.calls["/cgi-bin/token"] == 1 and wechat.messages() == []


async def test_wecom_keeps_its_own_token(account: ServiceAccount, wecom: WeComApp, wechat):
    await send(account)
    await wecom.send_text_card(["zhangsan"], "新工单", "车床报警", "https://help.example.org/expert")
    await wecom.send_text_card(["zhangsan"], "新工单", "车床报警", "https://help.example.org/expert")
    assert wechat.calls["/cgi-bin/token"] == 1 and wechat.calls["/cgi-bin/gettoken"] == 1


@pytest.mark.redis
async def test_instances_share_the_token_through_redis(wechat_settings: WeChatSettings, wechat, redis_url):
    shared = SharedState.open(redis_url)
    try:
        async with (
            ServiceAccount(wechat_settings, pool=shared.pool) as first,
            ServiceAccount(wechat_settings, pool=shared.pool) as second,
        ):
            await asyncio.gather(send(first, "o-1"), send(second, "o-2"))  # both start with none
            await send(second, "o-3")
            assert wechat.calls["/cgi-bin/token"] == 1

            key = f"craftdesk:wechat-token:mp:{wechat_settings.app_id}"
            ttl = await first.tokens.redis.ttl(key)
            assert 7200 - MARGIN_SECONDS - 5 <= ttl <= 7200 - MARGIN_SECONDS

            wechat.expire_tokens()
            await send(first, "o-4")  # refused: the first refreshes it for both
            await send(second, "o-5")
            assert wechat.calls["/cgi-bin/token"] == 2
            assert wechat.calls["/cgi-bin/message/template/send"] == 6  # one refused, retried once
    finally:
        await shared.close()


@pytest.mark.redis
async def test_invalidating_a_replaced_token_keeps_the_new_one(redis_url):
    shared = SharedState.open(redis_url)
    issued = iter(["token-1", "token-2", "token-3"])

    async def fetch() -> tuple[str, float]:
        return next(issued), 7200

    try:
        one = TokenCache("mp", "app", fetch, shared.pool)
        other = TokenCache("mp", "app", fetch, shared.pool)
        assert await one.get() == "token-1"
        await one.invalidate("token-1")
        assert await other.get() == "token-2"
        await one.invalidate("token-1")  # a late refusal of the old token: the new one stays
        assert await one.get() == "token-2"
    finally:
        await shared.close()
