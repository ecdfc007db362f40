"""The chat page inside WeChat: the silent authorisation detour, and what ``wechat.js`` reads
(the identified worker's tickets, their notification choice, the ticket a notification opens).
Outside WeChat, or with the service account off, the page stays exactly as it was."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.clock import Clock
from bot.service.wechat_identity import COOKIE_NAME, wants_notifications, worker_tickets
from bot.web import texts
from bot.wechat.channel import WeChatChannel

IN_WECHAT = "MicroMessenger"  # WeChat's browser names itself so in its User-Agent
OAUTH_PATH = "/wechat/oauth"
TICKET_ID = re.compile(r"[0-9a-f]{32}")
SITE, TICKET, BIND = "s", "t", "b"  # the kinds of OAuth state


def in_wechat(request: Request) -> bool:
    return IN_WECHAT in request.headers.get("user-agent", "")


def wanted_ticket(request: Request) -> str | None:
    """The ticket a notification's link names (``?ticket=``), when it looks like a ticket id."""
    ticket = request.query_params.get("ticket", "")
    return ticket if TICKET_ID.fullmatch(ticket) else None


def chat_url(site_code: str, wx: str | None = None, ticket: str | None = None) -> str:
    query = {name: value for name, value in (("wx", wx), ("ticket", ticket)) if value is not None}
    return f"/c/{site_code}" + (f"?{urlencode(query)}" if query else "")


def oauth_redirect(wechat: WeChatChannel, kind: str, value: str, clock: Clock) -> RedirectResponse:
    """To WeChat's silent authorisation, coming back to ``/wechat/oauth`` with a signed state."""
    if wechat.account is None:
        raise RuntimeError("the service account is not configured")
    state = wechat.signer.state(kind, value, clock.now())
    redirect_uri = f"{wechat.settings.public_url}{OAUTH_PATH}"
    return RedirectResponse(wechat.account.oauth_url(redirect_uri, state), status_code=302)


def chat_detour(
    request: Request, wechat: WeChatChannel | None, clock: Clock, site_code: str
) -> RedirectResponse | None:
    """The detour through the silent authorisation: inside WeChat, with the service account
    on, for a browser without a valid worker cookie, unless the page came back from it (``wx``:
    1 identified, 0 it failed; never a loop)."""
    if wechat is None or wechat.account is None or not in_wechat(request) or "wx" in request.query_params:
        return None
    if wechat.signer.openid(request.cookies.get(COOKIE_NAME), clock.now()) is not None:
        return None
    if (ticket := wanted_ticket(request)) is not None:
        return oauth_redirect(wechat, TICKET, ticket, clock)
    return oauth_redirect(wechat, SITE, site_code, clock)


async def chat_data(
    request: Request, session: AsyncSession, wechat: WeChatChannel | None, clock: Clock
) -> dict[str, Any]:
    """What ``wechat.js`` reads from the page: ``open_ticket`` (a notification's ticket), and for
    an identified worker ``wechat``: their tickets, merged into the page's history, and whether
    notifications are on."""
    data: dict[str, Any] = {"open_ticket": wanted_ticket(request)}
    openid = (
        wechat.signer.openid(request.cookies.get(COOKIE_NAME), clock.now())
        if wechat is not None and wechat.account is not None
        else None
    )
    if wechat is None or openid is None:
        return data
    data["wechat"] = {
        "tickets": [
            {
                "ticket_id": t.ticket_id,
                "question_id": t.question_id,
                "question": t.question,
                "stage": t.stage,
                "site": t.site_code,
                "created_at": t.created_at.isoformat(),
            }
            for t in await worker_tickets(session, openid)
        ],
        "notify": await wants_notifications(session, openid),
        "texts": texts.WECHAT_CHAT,
    }
    account = wechat.settings.wechat
    if account.message_kind == "subscribe" and account.answer_template_id:  # consent, one per message
        data["wechat"]["subscribe"] = {"template": account.answer_template_id}
    return data
