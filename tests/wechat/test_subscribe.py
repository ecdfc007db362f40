"""An account that sends subscribe messages (订阅通知): nothing reaches a worker without their
consent, one message per consent, given with WeChat's subscribe button on the chat page (its
JS-SDK signed by the server)."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs

import httpx
import pytest

from bot.settings import Settings, WeChatSettings
from knowledge.models import Expert
from tests.wechat.emulator import APP_ID, WeChatEmulator
from tests.wechat.test_flows import (
    IN_WECHAT,
    PUBLIC,
    SITE,
    answer,
    answered_event,
    ask,
    cookie_header,
    db_url,  # noqa: F401 - SQLite, as in the flows
    identify,
    settled,
)


@pytest.fixture
def settings(settings: Settings, wechat_settings: WeChatSettings) -> Settings:
    subscribe = wechat_settings.model_copy(update={"message_kind": "subscribe"})
    return settings.model_copy(update={"public_url": PUBLIC, "wechat": subscribe})


def js_signature(ticket: str, config: dict[str, object], url: str) -> str:
    """The JS-SDK signature as WeChat's documentation defines it, computed here independently."""
    plain = f"jsapi_ticket={ticket}&noncestr={config['nonceStr']}&timestamp={config['timestamp']}&url={url}"
    return hashlib.sha1(plain.encode()).hexdigest()


async def test_the_page_is_signed_for_the_subscribe_button(client: httpx.AsyncClient, wechat: WeChatEmulator):
    cookie = await identify(client, wechat, "o-consent")
    page = await client.get(f"/c/{SITE}?wx=1", headers=IN_WECHAT | cookie_header(cookie))
    assert "https://res.wx.qq.com" in page.headers["content-security-policy"]  # the SDK, on this page only
    assert '"subscribe": {"template": "tpl-answer"}' in page.text
    url = f"{PUBLIC}/c/{SITE}?wx=1"
    for _ in range(2):
        got = await client.get("/api/wechat/js-config", params={"url": url}, headers=cookie_header(cookie))
        assert got.status_code == 200
        config = got.json()
        assert config["appId"] == APP_ID
        assert config["signature"] == js_signature(wechat.js_ticket, config, url)
    assert wechat.calls["/cgi-bin/ticket/getticket"] == 1  # the ticket is kept, like the token
    assert (await client.get("/api/wechat/js-config", params={"url": url})).status_code == 401
    elsewhere = await client.get(
        "/api/wechat/js-config", params={"url": "https://evil.example/"}, headers=cookie_header(cookie)
    )
    assert elsewhere.status_code == 422
    plain = await client.get(f"/c/{SITE}")  # outside WeChat: no SDK allowed
    assert "res.wx.qq.com" not in plain.headers["content-security-policy"]


async def test_one_message_per_consent(client: httpx.AsyncClient, wechat: WeChatEmulator, context):
    cookie = await identify(client, wechat, "o-consent")
    first = await ask(client, cookie)
    await answer(client, first)
    await answered_event(context, first["ticket_id"])
    assert wechat.messages("subscribe") == []  # no consent: nothing sent

    consent = await client.post(
        "/api/my/subscription", json={"accepted": True}, headers=cookie_header(cookie)
    )
    assert consent.json() == {"subscribed": True}
    second = await ask(client, cookie)
    await answer(client, second)
    await answered_event(context, second["ticket_id"])
    [sent] = wechat.messages("subscribe")
    assert sent["touser"] == "o-consent" and sent["template_id"] == "tpl-answer"
    assert parse_qs(sent["page"].split("?", 1)[1])["ticket"] == [second["ticket_id"]]

    third = await ask(client, cookie)  # the consent was used up
    await answer(client, third)
    await answered_event(context, third["ticket_id"])
    assert len(wechat.messages("subscribe")) == 1
    refused = await client.post(
        "/api/my/subscription", json={"accepted": False}, headers=cookie_header(cookie)
    )
    assert refused.json() == {"subscribed": False}


async def test_experts_get_no_subscribe_message_they_did_not_consent_to(client, wechat, context):
    ticket = await ask(client)
    expert_id = ticket["expert"]["expert_id"]
    async with context.sessions() as session:
        expert = await session.get(Expert, expert_id)
        expert.wechat_openid = "o-expert-sub"
        await session.commit()
    worker = {"X-Ticket-Token": ticket["token"]}
    sent = await client.post(
        f"/api/tickets/{ticket['ticket_id']}/messages", headers=worker, json={"text": "还在响"}
    )
    assert sent.status_code == 201
    await settled(context)
    assert wechat.messages() == []  # no template, no subscribe message to the bound expert
