"""WeChat and WeCom on the web: the service account's authorisation coming back
(``/wechat/oauth``), expert binding links (``/wechat/bind/<code>``), the notifications'
console links (``/expert/enter/<code>``), the identified worker's own tickets and notification
choice (``/api/my/...``), the admin's binding links and WeCom ids, and the WeCom callback."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from pydantic import BaseModel, Field

from bot.providers import ClockDep, SessionDep, SettingsDep, TicketsDep, WeChatDep
from bot.service.clock import Clock
from bot.service.qr import qr_svg
from bot.service.wechat_identity import (
    COOKIE_NAME,
    cookie_lifetime,
    record_subscription,
    remember_worker,
    set_notify,
    subscribed,
    worker_tickets,
)
from bot.service.wechat_links import (
    bind_path,
    enter_console,
    issue_wechat_bind_code,
    redeem_wechat_bind_code,
    set_steward_wecom_userid,
    set_wecom_userid,
)
from bot.service.wechat_replies import reply_from_wecom
from bot.settings import Settings
from bot.web import texts
from bot.web.deps import AdminDep, StaffDep, WeChatWorker
from bot.web.pages import SECURITY_HEADERS, templates
from bot.web.wechat_page import BIND, SITE, TICKET, TICKET_ID, chat_url, in_wechat, oauth_redirect
from bot.wechat.channel import WeChatChannel
from bot.wechat.errors import BadSignature, InvalidCode, WeChatError
from knowledge.errors import AccessDeniedError, ConflictError, InvalidInputError, NotFoundError
from knowledge.models import Expert, Ticket
from knowledge.states import TicketStatus, WorkerStage

router = APIRouter(tags=["wechat"])
NO_STORE = {"Cache-Control": "no-store"}


def page(
    request: Request, which: str, status_code: int = 200, link: str | None = None, **values: str
) -> HTMLResponse:
    """One of the WeChat pages (``texts.WECHAT_PAGES[name]``): a title, a sentence, a link."""
    title, text, link_text = texts.WECHAT_PAGES[which]
    context = {"title": title, "text": text.format(**values), "link": link, "link_text": link_text}
    return templates.TemplateResponse(
        request, "wechat.html", context, status_code=status_code, headers=SECURITY_HEADERS | NO_STORE
    )


def account_of(wechat: WeChatChannel | None) -> WeChatChannel:
    if wechat is None or wechat.account is None:
        raise NotFoundError("the WeChat service account is not configured")
    return wechat


# ---- the service account's authorisation -------------------------------------------------------


@router.get("/wechat/oauth", include_in_schema=False)
async def oauth(
    request: Request,
    wechat: WeChatDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    code: str = "",
    state: str = "",
) -> Response:
    """Where WeChat's silent authorisation comes back: the state checked (signed here, ten
    minutes), the code exchanged once for the openid; a worker gets the cookie and their chat
    back, an expert's binding link binds their WeChat."""
    if wechat is None or wechat.account is None:
        return page(request, "off", 404, link="/")
    read = wechat.signer.read_state(state, clock.now())
    if read is None:
        return page(request, "state_invalid", 400, link="/")
    kind, value = read
    back, retry = await _way_back(session, kind, value)
    try:
        openid = await wechat.account.openid_for_code(code)
    except InvalidCode:
        return page(request, "bind_failed" if kind == BIND else "oauth_failed", 400, link=retry)
    except WeChatError:
        return page(request, "oauth_unavailable", 503, link=retry)
    if kind == BIND:
        try:
            expert = await redeem_wechat_bind_code(session, value, openid, clock)
        except NotFoundError:
            return page(request, "bind_failed", 404)
        return page(request, "bound", link="/expert", name=expert.name)
    await remember_worker(session, openid, clock.now())
    response = RedirectResponse(back, status_code=302, headers=NO_STORE)
    set_worker_cookie(response, wechat, settings, openid, clock)
    return response


async def _way_back(session: SessionDep, kind: str, value: str) -> tuple[str, str | None]:
    """Where a worker goes after the authorisation (identified: ``wx=1``), and where they go
    when it failed (``wx=0``: the chat without identity, never the detour again)."""
    if kind == SITE:
        return chat_url(value, "1"), chat_url(value, "0")
    if kind == TICKET:
        ticket = await session.get(Ticket, value) if TICKET_ID.fullmatch(value) else None
        if ticket is not None and ticket.site_code is not None:
            return chat_url(ticket.site_code, "1", ticket.id), chat_url(ticket.site_code, "0", ticket.id)
    return "/", None


def set_worker_cookie(
    response: Response, wechat: WeChatChannel, settings: Settings, openid: str, clock: Clock
) -> None:
    response.set_cookie(
        COOKIE_NAME,
        wechat.signer.cookie(openid, clock.now()),
        max_age=int(cookie_lifetime().total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
    )


# ---- experts: binding WeChat, and the notifications' console links ----------------------------


@router.get("/wechat/bind/{code}", include_in_schema=False)
async def bind(code: str, request: Request, wechat: WeChatDep, clock: ClockDep) -> Response:
    """An expert's binding link: inside WeChat, through the silent authorisation (the state
    carries the code); elsewhere, a page asking to open it in WeChat."""
    if wechat is None or wechat.account is None:
        return page(request, "off", 404, link="/")
    if not TICKET_ID.fullmatch(code):  # 32 hex digits, as issued
        return page(request, "bind_failed", 404)
    if not in_wechat(request):
        return page(request, "open_in_wechat")
    return oauth_redirect(wechat, BIND, code, clock)


@router.get("/expert/enter/{code}", include_in_schema=False)
async def enter(code: str, request: Request, session: SessionDep, clock: ClockDep) -> Response:
    """A notification's console link: once, within minutes, it signs this phone into the
    console (the token in the fragment, as the admin's login links carry it)."""
    try:
        entry = await enter_console(session, code, clock)
    except NotFoundError:
        return page(request, "enter_failed", 404, link="/expert")
    fragment = f"token={entry.token}" + (f"&ticket={entry.ticket_id}" if entry.ticket_id else "")
    return RedirectResponse(
        f"/expert#{fragment}", status_code=302, headers=NO_STORE | {"Referrer-Policy": "no-referrer"}
    )


# ---- the identified worker -------------------------------------------------------------------


class MyTicketOut(BaseModel):
    ticket_id: str
    question_id: str | None
    question: str
    status: TicketStatus
    stage: WorkerStage
    site: str | None
    created_at: datetime
    updated_at: datetime


class NotifyRequest(BaseModel):
    notify: bool


class NotifyOut(BaseModel):
    notify: bool


def _identified(openid: str | None) -> str:
    if openid is None:
        raise HTTPException(401, "open the chat in WeChat to be identified")
    return openid


@router.get("/api/my/tickets", response_model=list[MyTicketOut], tags=["worker"])
async def my_tickets(openid: WeChatWorker, session: SessionDep) -> list[MyTicketOut]:
    """The identified WeChat worker's tickets (cookie ``craftdesk_wx``), newest first."""
    return [
        MyTicketOut(
            ticket_id=t.ticket_id,
            question_id=t.question_id,
            question=t.question,
            status=t.status,
            stage=t.stage,
            site=t.site_code,
            created_at=t.created_at,
            updated_at=t.updated_at,
        )
        for t in await worker_tickets(session, _identified(openid))
    ]


@router.post("/api/my/notifications", response_model=NotifyOut, tags=["worker"])
async def my_notifications(
    body: NotifyRequest, openid: WeChatWorker, session: SessionDep, clock: ClockDep
) -> NotifyOut:
    """Stop (false) or resume (true) the WeChat notifications of the identified worker."""
    worker = await set_notify(session, _identified(openid), body.notify, clock.now())
    return NotifyOut(notify=worker.notify)


class SubscriptionRequest(BaseModel):
    accepted: bool = Field(description="what the subscribe button's success event said of the template")


class SubscriptionOut(BaseModel):
    subscribed: bool


@router.post("/api/my/subscription", response_model=SubscriptionOut, tags=["worker"])
async def my_subscription(
    body: SubscriptionRequest, openid: WeChatWorker, session: SessionDep, clock: ClockDep
) -> SubscriptionOut:
    """The identified worker accepted (or refused) one subscribe message with the page's
    subscribe button (accounts with ``CRAFTDESK_WECHAT__MESSAGE_KIND=subscribe``): the next
    answer is then sent, one message per consent."""
    worker = _identified(openid)
    if body.accepted:
        await record_subscription(session, worker, clock.now())
    return SubscriptionOut(subscribed=await subscribed(session, worker))


class JsConfigOut(BaseModel):
    appId: str  # noqa: N815 - the names wx.config takes
    timestamp: int
    nonceStr: str  # noqa: N815
    signature: str


@router.get("/api/wechat/js-config", response_model=JsConfigOut, tags=["worker"])
async def js_config(
    url: Annotated[str, Query(max_length=1000, description="the page's own address (location.href)")],
    openid: WeChatWorker,
    wechat: WeChatDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> JsConfigOut:
    """The JS-SDK signature for a chat page of this server, for the subscribe button; only for
    an identified worker, and only for an address under ``CRAFTDESK_PUBLIC_URL``."""
    _identified(openid)
    if wechat is None or wechat.account is None:
        raise NotFoundError("the WeChat service account is not configured")
    if not url.startswith(f"{settings.public_url}/"):
        raise InvalidInputError(f"url: a page of {settings.public_url} only")
    try:
        config = await wechat.account.js_config(url, secrets.token_hex(8), int(clock.now().timestamp()))
    except WeChatError as exc:
        raise HTTPException(503, f"WeChat did not answer: {exc}") from None
    return JsConfigOut.model_validate(config)


# ---- admin: binding links and WeCom ids ----------------------------------------------------------


class WeChatLinkOut(BaseModel):
    link: str
    qr_svg: str  # the link as a QR code (SVG), to scan with WeChat
    expires_at: str


class WeComIdRequest(BaseModel):
    userid: str | None = Field(None, description="the WeCom user id (通讯录 账号); null or empty unsets it")


class WeComIdOut(BaseModel):
    expert_id: str
    wecom_userid: str | None


async def _steward_may(staff: StaffDep, session: SessionDep, expert_id: str) -> Expert:
    """The admin, or a steward whose regions hold the expert's region."""
    expert = await session.get(Expert, expert_id)
    if expert is None:
        raise NotFoundError(f"no expert with id {expert_id!r}")
    if staff.steward is not None and (expert.region is None or expert.region not in staff.steward.regions):
        raise AccessDeniedError("this expert is outside the regions this steward looks after")
    return expert


@router.post(
    "/api/admin/experts/{expert_id}/wechat-link",
    status_code=201,
    response_model=WeChatLinkOut,
    tags=["admin"],
)
async def wechat_link(
    expert_id: str,
    staff: StaffDep,
    wechat: WeChatDep,
    settings: SettingsDep,
    clock: ClockDep,
    session: SessionDep,
) -> WeChatLinkOut:
    """A single-use link that ties the WeChat account opening it to this expert; earlier unused
    links of the expert stop working. 409 without the service account."""
    await _steward_may(staff, session, expert_id)  # the caller first: no hint to a stranger
    if wechat is None or wechat.account is None:
        raise ConflictError(
            "the WeChat service account is not configured: set CRAFTDESK_WECHAT__APP_ID and __APP_SECRET"
        )
    code = await issue_wechat_bind_code(session, expert_id, clock)
    link = f"{settings.public_url}{bind_path(code.code)}"
    return WeChatLinkOut(link=link, qr_svg=qr_svg(link).decode(), expires_at=code.expires_at.isoformat())


@router.put("/api/admin/experts/{expert_id}/wecom", response_model=WeComIdOut, tags=["admin"])
async def wecom_id(expert_id: str, body: WeComIdRequest, staff: StaffDep, session: SessionDep) -> WeComIdOut:
    """Set (or unset) the expert's WeCom user id, which the WeCom app's text cards go to."""
    await _steward_may(staff, session, expert_id)
    expert = await set_wecom_userid(session, expert_id, body.userid)
    return WeComIdOut(expert_id=expert.id, wecom_userid=expert.wecom_userid)


class StewardWeComIdOut(BaseModel):
    steward_id: str
    wecom_userid: str | None


@router.put("/api/admin/stewards/{steward_id}/wecom", response_model=StewardWeComIdOut, tags=["admin"])
async def steward_wecom_id(
    steward_id: str, body: WeComIdRequest, _: AdminDep, session: SessionDep
) -> StewardWeComIdOut:
    """Set (or unset) a steward's WeCom user id (admin only): tickets escalated to the admin
    queue from a site in the steward's scope reach it as text cards."""
    steward = await set_steward_wecom_userid(session, steward_id, body.userid)
    return StewardWeComIdOut(steward_id=steward.id, wecom_userid=steward.wecom_userid)


# ---- the WeCom callback ----------------------------------------------------------------------

CallbackQuery = Annotated[str, Query(max_length=200)]


@router.get("/wechat/wecom/callback", include_in_schema=False)
async def wecom_verify(
    wechat: WeChatDep,
    msg_signature: CallbackQuery = "",
    timestamp: CallbackQuery = "",
    nonce: CallbackQuery = "",
    echostr: Annotated[str, Query(max_length=2000)] = "",
) -> PlainTextResponse:
    """WeCom's check of the callback URL: the decrypted echo, or 403."""
    if wechat is None or wechat.crypto is None:
        raise NotFoundError("the WeCom callback is not configured")
    try:
        return PlainTextResponse(wechat.crypto.verify_url(msg_signature, timestamp, nonce, echostr))
    except BadSignature:
        raise HTTPException(403, "bad signature") from None


@router.post("/wechat/wecom/callback", include_in_schema=False)
async def wecom_message(
    request: Request,
    wechat: WeChatDep,
    session: SessionDep,
    tickets: TicketsDep,
    msg_signature: CallbackQuery = "",
    timestamp: CallbackQuery = "",
    nonce: CallbackQuery = "",
) -> PlainTextResponse:
    """A message to the WeCom app: checked and decrypted (403 otherwise); a bound expert's
    text becomes their answer on the ticket they were last notified of (docs/wechat.md)."""
    if wechat is None or wechat.crypto is None:
        raise NotFoundError("the WeCom callback is not configured")
    try:
        message = wechat.crypto.decrypt_message(msg_signature, timestamp, nonce, await request.body())
    except BadSignature:
        raise HTTPException(403, "bad signature") from None
    await reply_from_wecom(session, tickets, wechat.seen, message)
    return PlainTextResponse("success")
