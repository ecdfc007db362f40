"""WeChat end to end: the real app (SQLite, the demo knowledge, the real model) with the service
account and the WeCom app pointed at the emulator, the outbox running as in production.

A worker is identified inside WeChat by the silent authorisation (a forged or replayed code
refused) and finds their tickets on a second phone; an expert binds WeChat by a one-time link,
is notified of a routed ticket with a console link that signs in once; the answer reaches the
worker with the link to their ticket. A 5xx is retried, an unsubscribed worker recorded and
not retried, a worker who stopped notifications gets none; WeCom text cards reach a WeCom
expert, a reply through the callback answers the ticket, a bad signature is 403."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot import texts
from bot.settings import Settings, WeChatSettings, WeComSettings
from bot.wechat.crypto import WeComCrypto, signature
from knowledge.models import ChannelDelivery, Expert, OutboxEvent, Question, Ticket
from knowledge.states import EventKind
from tests.utils.auth import ADMIN
from tests.utils.wait import eventually
from tests.wechat.emulator import CORP_ID, WeChatEmulator

SITE = "xcmg-hv-3"
PUBLIC = "http://test"
IN_WECHAT = {"User-Agent": "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0.47 NetType/WIFI"}
PROBLEM = "注塑机开模的时候模具有异响，咔咔的响，是顶针板卡了吗"
CALLBACK_TOKEN = "callbacktoken123"
CALLBACK_KEY = base64.b64encode(b"k" * 32).decode().rstrip("=")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


@pytest.fixture
def settings(settings: Settings, wechat_settings: WeChatSettings, wecom_settings: WeComSettings) -> Settings:
    wecom = wecom_settings.model_copy(
        update={"callback_token": SecretStr(CALLBACK_TOKEN), "callback_aes_key": SecretStr(CALLBACK_KEY)}
    )
    return settings.model_copy(update={"public_url": PUBLIC, "wechat": wechat_settings, "wecom": wecom})


def cookie_header(cookie: str) -> dict[str, str]:
    return {"Cookie": f"craftdesk_wx={cookie}"}


async def through_wechat(client: httpx.AsyncClient, location: str) -> httpx.Response:
    """Follow a redirect to the emulator's authorisation page and back to the app."""
    async with httpx.AsyncClient() as outside:
        consent = await outside.get(location)
    assert consent.status_code == 302, consent.text
    back = consent.headers["location"]
    assert back.startswith(f"{PUBLIC}/wechat/oauth?")
    return await client.get(back.removeprefix(PUBLIC), headers=IN_WECHAT)


async def identify(client: httpx.AsyncClient, wechat: WeChatEmulator, openid: str) -> str:
    """The worker's cookie after opening the chat in WeChat as ``openid``."""
    wechat.current_openid = openid
    detour = await client.get(f"/c/{SITE}", headers=IN_WECHAT)
    assert detour.status_code == 302
    assert detour.headers["location"].startswith(f"{wechat.url}/connect/oauth2/authorize?")
    done = await through_wechat(client, detour.headers["location"])
    assert done.status_code == 302 and done.headers["location"] == f"/c/{SITE}?wx=1"
    set_cookie = done.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "samesite=lax" in set_cookie.lower() and "Secure" not in set_cookie
    client.cookies.clear()
    return re.match(r"craftdesk_wx=([^;]+)", set_cookie).group(1)  # type: ignore[union-attr]


def page_data(page: httpx.Response) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page.text, re.S)
    assert match is not None
    return json.loads(match.group(1))


async def expert_headers(client: httpx.AsyncClient, expert_id: str) -> dict[str, str]:
    token = (await client.post(f"/api/admin/experts/{expert_id}/token", headers=ADMIN)).json()["token"]
    return {"Authorization": f"Bearer {token}"}


async def ask(client: httpx.AsyncClient, cookie: str | None = None) -> dict[str, Any]:
    headers = cookie_header(cookie) if cookie else {}
    response = await client.post("/api/ask", json={"text": PROBLEM, "site": SITE}, headers=headers)
    assert response.status_code == 200 and response.json()["decision"] == "route"
    return response.json()["ticket"]


async def answer(
    client: httpx.AsyncClient, ticket: dict[str, Any], text: str = "先检查顶针板导柱润滑。"
) -> None:
    expert = await expert_headers(client, ticket["expert"]["expert_id"])
    done = await client.post(
        f"/api/expert/tickets/{ticket['ticket_id']}/answer", headers=expert, json={"text": text}
    )
    assert done.status_code == 201


async def answered_event(context: Any, ticket_id: str) -> OutboxEvent:
    async def delivered() -> OutboxEvent | None:
        async with context.sessions() as session:
            event = await session.scalar(
                select(OutboxEvent).where(
                    OutboxEvent.ticket_id == ticket_id, OutboxEvent.kind == EventKind.ANSWERED
                )
            )
            return event if event is not None and event.delivered_at is not None else None

    return await eventually(delivered, 20, "the answer's notification delivered")  # type: ignore[return-value]


async def settled(context: Any) -> None:
    """Every notification so far delivered (sent, or not for these channels)."""

    async def nothing_pending() -> bool:
        async with context.sessions() as session:
            return (
                await session.scalar(select(OutboxEvent.id).where(OutboxEvent.delivered_at.is_(None))) is None
            )

    await eventually(nothing_pending, 20, "the outbox emptied")


async def test_a_worker_is_identified_in_wechat_and_finds_their_tickets_on_a_second_phone(
    client, wechat, context
):
    outside = await client.get(f"/c/{SITE}")
    assert outside.status_code == 200 and "wechat" not in page_data(outside)  # today's page
    cookie = await identify(client, wechat, "o-worker-1")

    forged = await client.get("/wechat/oauth", params={"code": "forged", "state": "x"}, headers=IN_WECHAT)
    assert forged.status_code == 400  # a state this server did not sign
    wechat.current_openid = "o-worker-1"
    detour = await client.get(f"/c/{SITE}", headers=IN_WECHAT)
    async with httpx.AsyncClient() as browser:
        back = (await browser.get(detour.headers["location"])).headers["location"].removeprefix(PUBLIC)
    assert (await client.get(back, headers=IN_WECHAT)).status_code == 302
    client.cookies.clear()
    replayed = await client.get(back, headers=IN_WECHAT)
    assert replayed.status_code == 400 and f"/c/{SITE}?wx=0" in replayed.text  # still usable, unidentified
    state = parse_qs(urlsplit(back).query)["state"][0]
    forged_code = await client.get(
        "/wechat/oauth", params={"code": "x" * 32, "state": state}, headers=IN_WECHAT
    )
    assert forged_code.status_code == 400 and "set-cookie" not in forged_code.headers
    assert (await client.get(f"/c/{SITE}?wx=0", headers=IN_WECHAT)).status_code == 200  # no detour loop

    ticket = await ask(client, cookie)
    async with context.sessions() as session:
        stored = await session.get(Ticket, ticket["ticket_id"])
        question = await session.get(Question, stored.question_id)
    assert stored.worker_openid == "o-worker-1"
    assert question.asker == hashlib.sha256(b"wechat:o-worker-1").hexdigest()

    # a second phone: no token, only the same openid's cookie
    mine = (await client.get("/api/my/tickets", headers=cookie_header(cookie))).json()
    assert [t["ticket_id"] for t in mine] == [ticket["ticket_id"]] and mine[0]["question"] == PROBLEM
    seen = await client.get(f"/api/tickets/{ticket['ticket_id']}", headers=cookie_header(cookie))
    assert seen.status_code == 200 and seen.json()["messages"][0]["text"] == PROBLEM
    assert (await client.get(f"/api/tickets/{ticket['ticket_id']}")).status_code == 404
    other = await identify(client, wechat, "o-worker-2")
    assert (await client.get("/api/my/tickets", headers=cookie_header(other))).json() == []
    assert (
        await client.get(f"/api/tickets/{ticket['ticket_id']}", headers=cookie_header(other))
    ).status_code == 404
    assert (await client.get("/api/my/tickets")).status_code == 401

    page = await client.get(
        f"/c/{SITE}?ticket={ticket['ticket_id']}", headers=IN_WECHAT | cookie_header(cookie)
    )
    data = page_data(page)
    assert data["open_ticket"] == ticket["ticket_id"]
    assert [t["ticket_id"] for t in data["wechat"]["tickets"]] == [ticket["ticket_id"]]


async def test_a_bound_expert_is_notified_and_the_answer_reaches_the_worker(client, wechat, context):
    cookie = await identify(client, wechat, "o-worker")
    first = await ask(client, cookie)
    expert_id = first["expert"]["expert_id"]
    await settled(context)  # given before the expert bound WeChat: not sent there

    issued = await client.post(f"/api/admin/experts/{expert_id}/wechat-link", headers=ADMIN)
    assert issued.status_code == 201 and "<svg" in issued.json()["qr_svg"]
    link = issued.json()["link"].removeprefix(PUBLIC)
    assert (await client.get(link)).status_code == 200  # outside WeChat: open it in WeChat
    wechat.current_openid = "o-expert"
    bound = await through_wechat(client, (await client.get(link, headers=IN_WECHAT)).headers["location"])
    assert bound.status_code == 200 and "绑定成功" in bound.text
    async with context.sessions() as session:
        assert (await session.get(Expert, expert_id)).wechat_openid == "o-expert"
    again = await through_wechat(client, (await client.get(link, headers=IN_WECHAT)).headers["location"])
    assert again.status_code == 404  # single use

    second = await ask(client, cookie)
    if second["expert"]["expert_id"] != expert_id:  # the ranking moved on: the admin routes it
        await client.post(
            f"/api/admin/tickets/{second['ticket_id']}/assign", headers=ADMIN, json={"expert_id": expert_id}
        )
    to_expert = await eventually(
        lambda: _async([m for m in wechat.messages("template") if m["touser"] == "o-expert"]),
        20,
        "the expert told",
    )
    notice = to_expert[0]
    assert notice["template_id"] == "tpl-ticket"
    assert len(notice["data"]["thing1"]["value"]) <= 20 and notice["data"]["thing1"]["value"].startswith(
        "注塑机"
    )
    entry = urlsplit(notice["url"])
    assert notice["url"].startswith(f"{PUBLIC}/expert/enter/")
    signed_in = await client.get(entry.path)
    assert signed_in.status_code == 302
    fragment = parse_qs(urlsplit(signed_in.headers["location"]).fragment)
    assert fragment["ticket"] == [second["ticket_id"]]
    queue = await client.get(
        "/api/expert/tickets", headers={"Authorization": f"Bearer {fragment['token'][0]}"}
    )
    assert second["ticket_id"] in [t["ticket_id"] for t in queue.json()]
    assert (await client.get(entry.path)).status_code == 404  # used once

    await answer(client, {**second, "expert": {"expert_id": expert_id}})
    event = await answered_event(context, second["ticket_id"])
    to_worker = [m for m in wechat.messages("template") if m["touser"] == "o-worker"]
    assert len(to_worker) == 1 and to_worker[0]["template_id"] == "tpl-answer"
    assert to_worker[0]["url"] == f"{PUBLIC}/c/{SITE}?ticket={second['ticket_id']}"
    assert to_worker[0]["client_msg_id"] == str(event.id)
    opened = await client.get(
        f"/c/{SITE}?ticket={second['ticket_id']}", headers=IN_WECHAT | cookie_header(cookie)
    )
    assert page_data(opened)["open_ticket"] == second["ticket_id"]


async def _async(value: Any) -> Any:
    return value


async def test_failures_retries_unsubscribed_workers_and_notifications_off(client, wechat, context):
    cookie = await identify(client, wechat, "o-flaky")
    retried = await ask(client, cookie)
    wechat.fail(1, 502)
    await answer(client, retried)
    event = await answered_event(context, retried["ticket_id"])
    assert event.attempts == 1 and "502" in (event.last_error or "")  # the outbox backed off, then sent
    assert [m["touser"] for m in wechat.messages("template")] == ["o-flaky"]

    gone = await identify(client, wechat, "o-unfollowed")
    wechat.unsubscribed.add("o-unfollowed")
    unreachable = await ask(client, gone)
    await answer(client, unreachable)
    event = await answered_event(context, unreachable["ticket_id"])
    assert event.attempts == 0 and event.dead_at is None  # recorded, not retried
    async with context.sessions() as session:
        assert await session.get(ChannelDelivery, (event.id, "wechat")) is not None

    quiet = await identify(client, wechat, "o-quiet")
    off = await client.post("/api/my/notifications", json={"notify": False}, headers=cookie_header(quiet))
    assert off.status_code == 200 and off.json() == {"notify": False}
    silent = await ask(client, quiet)
    await answer(client, silent)
    await answered_event(context, silent["ticket_id"])
    assert [m["touser"] for m in wechat.messages("template")] == ["o-flaky"]
    assert (await client.post("/api/my/notifications", json={"notify": True})).status_code == 401


def callback_body(crypto: WeComCrypto, inner: str, timestamp: str, nonce: str) -> tuple[str, bytes]:
    encrypted = crypto.encrypt(inner)
    body = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    return signature(CALLBACK_TOKEN, timestamp, nonce, encrypted), body.encode()


async def test_wecom_text_cards_and_replies_through_the_callback(client, wechat, context):
    ticket = await ask(client)
    expert_id = ticket["expert"]["expert_id"]
    await settled(context)  # given before the expert had a WeCom id
    assert (
        await client.put(f"/api/admin/experts/{expert_id}/wecom", json={"userid": "li.wei"})
    ).status_code == 401
    saved = await client.put(
        f"/api/admin/experts/{expert_id}/wecom", headers=ADMIN, json={"userid": "li.wei"}
    )
    assert saved.json() == {"expert_id": expert_id, "wecom_userid": "li.wei"}
    worker = {"X-Ticket-Token": ticket["token"]}
    await client.post(
        f"/api/tickets/{ticket['ticket_id']}/messages", headers=worker, json={"text": "顶针板换过了"}
    )
    cards = await eventually(lambda: _async(wechat.messages("wecom")), 20, "the WeCom card")
    await settled(context)  # and recorded as sent: a reply finds its ticket by it
    card = cards[0]
    assert card["touser"] == "li.wei" and card["textcard"]["url"].startswith(f"{PUBLIC}/expert/enter/")
    assert "顶针板换过了" in card["textcard"]["description"]

    crypto = WeComCrypto(CALLBACK_TOKEN, CALLBACK_KEY, CORP_ID)
    query = {"timestamp": "1700000000", "nonce": secrets.token_hex(4)}
    echo = crypto.encrypt("echo-123")
    good = signature(CALLBACK_TOKEN, query["timestamp"], query["nonce"], echo)
    verified = await client.get(
        "/wechat/wecom/callback", params={**query, "msg_signature": good, "echostr": echo}
    )
    assert verified.status_code == 200 and verified.text == "echo-123"
    bad = await client.get(
        "/wechat/wecom/callback", params={**query, "msg_signature": "0" * 40, "echostr": echo}
    )
    assert bad.status_code == 403

    inner = (
        "<xml><ToUserName>corp</ToUserName><FromUserName>li.wei</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>text</MsgType><Content>导柱也要上油</Content><MsgId>7001</MsgId><AgentID>1000002</AgentID></xml>"
    )
    signed, body = callback_body(crypto, inner, query["timestamp"], query["nonce"])
    forged = await client.post(
        "/wechat/wecom/callback", params={**query, "msg_signature": "f" * 40}, content=body
    )
    assert forged.status_code == 403
    for _ in range(2):  # WeCom retries: the same MsgId is one reply
        replied = await client.post(
            "/wechat/wecom/callback", params={**query, "msg_signature": signed}, content=body
        )
        assert replied.status_code == 200
    seen = (await client.get(f"/api/tickets/{ticket['ticket_id']}", headers=worker)).json()
    assert [m["text"] for m in seen["messages"] if m["author"] == "expert"] == ["导柱也要上油"]


async def _stewards_in_wecom(client, scopes: dict[str, dict]) -> None:
    """Stewards with these scopes, each bound to the WeCom user id ``wx.<steward id>``."""
    for steward_id, scope in scopes.items():
        body = {"name": f"{steward_id} 管家", **scope, "active": True}
        assert (
            await client.put(f"/api/admin/stewards/{steward_id}", headers=ADMIN, json=body)
        ).status_code == 201
        saved = await client.put(
            f"/api/admin/stewards/{steward_id}/wecom", headers=ADMIN, json={"userid": f"wx.{steward_id}"}
        )
        assert saved.json() == {"steward_id": steward_id, "wecom_userid": f"wx.{steward_id}"}


async def test_an_escalated_ticket_reaches_the_stewards_of_its_site_in_wecom(client, wechat, context):
    await _stewards_in_wecom(
        client, {"urban": {"station_ids": ["st-urban"]}, "tongshan": {"regions": ["铜山区"]}}
    )
    assert (
        await client.put("/api/admin/stewards/urban/wecom", json={"userid": "someone.else"})
    ).status_code == 401  # the admin's alone
    taken = await client.put("/api/admin/stewards/tongshan/wecom", headers=ADMIN, json={"userid": "wx.urban"})
    assert taken.status_code == 409

    ticket = await ask(client)  # at xcmg-hv-3, of station st-urban
    await settled(context)
    async with context.sessions() as session:  # nobody took it: what the sweep emits at the admin queue
        stored = await session.get(Ticket, ticket["ticket_id"])
        session.add(
            OutboxEvent(
                kind=EventKind.ESCALATED,
                ticket_id=stored.id,
                recipient="admin",
                payload={"text": stored.text},
                created_at=stored.created_at,
                attempts=0,
            )
        )
        await session.commit()
    cards = await eventually(lambda: _async(wechat.messages("wecom")), 20, "the steward's card")
    await settled(context)
    assert [card["touser"] for card in wechat.messages("wecom")] == ["wx.urban"]  # not the other scope
    assert (
        cards[0]["textcard"]["url"] == f"{PUBLIC}/admin"
        and PROBLEM[:10] in cards[0]["textcard"]["description"]
    )


async def test_a_filed_need_reaches_the_stewards_of_its_station_in_wecom(client, wechat, context):
    await _stewards_in_wecom(
        client, {"tongshan": {"station_ids": ["st-tongshan"]}, "urban": {"regions": ["徐州市区"]}}
    )
    form = {
        "station_id": "st-tongshan",
        "enterprise": "铜山某机械厂",
        "contact_name": "刘主席",
        "contact_phone": "13805160009",
        "problem": "冲压线换模后送料不稳，想请师傅上门看看",
        "urgency": "critical",
        "help_wanted": ["onsite"],
        "workers_affected": 30,
    }
    assert (await client.post("/api/needs", json=form)).status_code == 201
    cards = await eventually(lambda: _async(wechat.messages("wecom")), 20, "the steward's card")
    await settled(context)
    assert [card["touser"] for card in wechat.messages("wecom")] == ["wx.tongshan"]  # not the other scope
    card = cards[0]["textcard"]
    assert card["title"] == texts.WX_CARD_TITLE["need_filed"] and card["url"] == f"{PUBLIC}/admin"
    assert "铜山某机械厂" in card["description"] and "紧急" in card["description"]
