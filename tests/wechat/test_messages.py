"""Notifications through the service account and WeCom, and what the platforms' errors become:
5xx and rate limits -> PlatformUnavailable (the outbox backs off), an unsubscribed or unknown
recipient -> RecipientUnreachable (one call, never retried), anything else -> PlatformError;
no token or secret in an error text or a log line."""

from __future__ import annotations

import logging

import httpx
import pytest

from bot.settings import WeChatSettings
from bot.wechat.api import ServiceAccount, WeComApp
from bot.wechat.errors import PlatformError, PlatformUnavailable, RecipientUnreachable, mask_secrets
from tests.utils.net import free_port
from tests.wechat import emulator as platform

TICKET_URL = "https://help.example.org/c/lathe-3#ticket=42"
FIELDS = {"thing1": "数控车床主轴报警", "thing2": "王师傅已回答"}
TEMPLATE_CALLS = "/cgi-bin/message/template/send"


async def test_a_template_message_opens_the_ticket(account: ServiceAccount, wechat):
    msgid = await account.send_template("o-worker", "tpl-answer", TICKET_URL, FIELDS)
    [message] = wechat.messages("template")
    assert message["msgid"] == msgid and message["touser"] == "o-worker"
    assert message["template_id"] == "tpl-answer" and message["url"] == TICKET_URL
    assert message["data"] == {"thing1": {"value": "数控车床主轴报警"}, "thing2": {"value": "王师傅已回答"}}


async def test_a_retry_with_the_same_client_msg_id_is_one_message(account: ServiceAccount, wechat):
    first = await account.send_template("o-worker", "tpl-answer", TICKET_URL, FIELDS, client_msg_id="evt-17")
    again = await account.send_template("o-worker", "tpl-answer", TICKET_URL, FIELDS, client_msg_id="evt-17")
    assert first == again and len(wechat.messages()) == 1


async def test_a_subscribe_message_opens_the_page(account: ServiceAccount, wechat):
    await account.send_subscribe("o-worker", "tpl-sub", TICKET_URL, FIELDS)
    [message] = wechat.messages("subscribe")
    assert message["page"] == TICKET_URL and message["data"]["thing1"] == {"value": "数控车床主轴报警"}


async def test_an_unsubscribed_worker_is_unreachable_after_one_call(account: ServiceAccount, wechat):
    wechat.unsubscribed.add("o-gone")
    with pytest.raises(RecipientUnreachable) as template:
        await account.send_template("o-gone", "tpl-answer", TICKET_URL, FIELDS)
    assert template.value.errcode == 43004 and wechat.calls[TEMPLATE_CALLS] == 1
    with pytest.raises(RecipientUnreachable) as subscribe:
        await account.send_subscribe("o-gone", "tpl-sub", TICKET_URL, FIELDS)
    assert subscribe.value.errcode == 43101
    assert wechat.messages() == []


async def test_a_platform_5xx_is_unavailable_and_the_next_try_goes_out(account: ServiceAccount, wechat):
    await account.send_template("o-worker", "tpl-answer", TICKET_URL, FIELDS)  # the token is kept
    wechat.fail(1, status=502)
    with pytest.raises(PlatformUnavailable, match="HTTP 502"):
        await account.send_template("o-worker", "tpl-answer", TICKET_URL, FIELDS)
    assert wechat.calls[TEMPLATE_CALLS] == 2  # not retried here: the outbox backs off
    await account.send_template("o-worker", "tpl-answer", TICKET_URL, FIELDS)
    assert len(wechat.messages()) == 2


async def test_a_5xx_of_the_token_endpoint_is_unavailable_too(account: ServiceAccount, wechat):
    wechat.fail(1, status=503)
    with pytest.raises(PlatformUnavailable):
        await account.send_template("o-worker", "tpl-answer", TICKET_URL, FIELDS)
    assert wechat.calls[TEMPLATE_CALLS] == 0


async def test_a_rate_limit_is_unavailable(account: ServiceAccount, wechat):
    wechat.rate_limit(1)
    with pytest.raises(PlatformUnavailable, match="45009"):
        await account.send_template("o-worker", "tpl-answer", TICKET_URL, FIELDS)


async def test_an_unreachable_server_is_unavailable(wechat_settings: WeChatSettings):
    closed = wechat_settings.model_copy(update={"api_base": f"http://127.0.0.1:{free_port()}"})
    async with ServiceAccount(closed) as account:
        with pytest.raises(PlatformUnavailable, match="ConnectError"):
            await account.send_template("o-worker", "tpl-answer", TICKET_URL, FIELDS)


async def test_another_errcode_is_a_platform_error(account: ServiceAccount, wechat):
    with pytest.raises(PlatformError) as refused:
        await account.send_template("o-worker", "", TICKET_URL, FIELDS)
    assert refused.value.errcode == 40037 and not isinstance(refused.value, RecipientUnreachable)


async def test_wecom_text_card_goes_to_the_users_with_the_agent_id(wecom: WeComApp, wechat):
    wechat.unknown_userids.add("left-the-company")
    unreachable = await wecom.send_text_card(
        ["zhangsan", "left-the-company", "lisi"], "新工单：车床报警", "主轴 <异响> & 报警", TICKET_URL
    )
    assert unreachable == ["left-the-company"]
    [card] = wechat.messages("wecom")
    assert card["agentid"] == platform.AGENT_ID and card["msgtype"] == "textcard"
    assert card["touser"] == "zhangsan|left-the-company|lisi"
    assert card["delivered_to"] == ["zhangsan", "lisi"]
    assert card["textcard"] == {
        "title": "新工单：车床报警",
        "description": "主轴 &lt;异响&gt; &amp; 报警",  # WeCom reads HTML in it: the text stays text
        "url": TICKET_URL,
        "btntxt": "详情",
    }


async def test_wecom_with_no_known_user_is_unreachable(wecom: WeComApp, wechat):
    wechat.unknown_userids.add("nobody")
    with pytest.raises(RecipientUnreachable) as refused:
        await wecom.send_text_card(["nobody"], "新工单", "车床报警", TICKET_URL)
    assert refused.value.errcode == 81013 and wechat.calls["/cgi-bin/message/send"] == 1


async def test_no_token_or_secret_in_errors_or_logs(account: ServiceAccount, wechat, caplog):
    caplog.set_level(logging.DEBUG)
    await account.send_template("o-worker", "tpl-answer", TICKET_URL, FIELDS)
    [token] = wechat.tokens
    wechat.expire_tokens()
    wechat.fail(1, status=500)
    with pytest.raises(PlatformUnavailable) as failed:
        await account.send_template("o-worker", "tpl-answer", TICKET_URL, FIELDS)
    ours = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith("uvicorn")
    )  # not the emulator's
    assert "access_token=***" in ours  # httpx's request lines, masked
    for secret in (token, platform.APP_SECRET):
        assert secret not in ours and secret not in str(failed.value)


def test_mask_secrets_blanks_every_credential_parameter():
    text = (
        "GET https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=s3cr3t "
        "then /cgi-bin/gettoken?corpid=ww1&corpsecret=c0rp and ?access_token=T0K&x=1 and code=abc"
    )
    masked = mask_secrets(text)
    for value in ("s3cr3t", "c0rp", "T0K", "abc"):
        assert value not in masked
    assert "appid=wx1" in masked and "corpid=ww1" in masked and "x=1" in masked


def test_an_http_error_text_is_masked_too():
    request = httpx.Request("GET", "https://api.weixin.qq.com/cgi-bin/token?secret=s3cr3t")
    error = PlatformUnavailable(f"token: {httpx.ConnectError('failed', request=request)} {request.url}")
    assert "s3cr3t" not in str(error)
