"""HTML pages: the worker chat a site's QR code opens, the expert console and the admin pages.

The pages are thin shells rendered with Jinja (autoescaped); their scripts call the JSON API.
Every asset is served by the app itself: factory intranets are often offline.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.providers import ClockDep, SessionDep, WeChatDep
from bot.service.needs import MAX_PHOTOS as MAX_NEED_PHOTOS
from bot.web import texts
from bot.web.wechat_page import chat_data, chat_detour
from knowledge.models import Case, Site, Station

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
# scripts only from this app, and images only from it or blob: URLs (photos fetched with a token)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; "
    "style-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter(include_in_schema=False)
EXAMPLE_CHARS = 32  # the question box's example: short enough for one line on a phone


@cache
def asset(name: str) -> str:
    """The URL of a static file with its content hash, so phones never run a stale script."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]
    return f"/static/{name}?v={digest}"


templates = Jinja2Templates(directory=WEB_DIR / "templates")
templates.env.globals["asset"] = asset


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)


WECHAT_SDK = "https://res.wx.qq.com"  # the JS-SDK of WeChat's subscribe button (static/wechat.js)


def _page(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200, wechat_sdk: bool = False
) -> HTMLResponse:
    """``wechat_sdk``: the page may load WeChat's JS-SDK (a chat page asking for a worker's
    consent to a subscribe message); every other script stays this app's own."""
    headers = SECURITY_HEADERS
    if wechat_sdk:
        policy = SECURITY_HEADERS["Content-Security-Policy"].replace(
            "script-src 'self'", f"script-src 'self' {WECHAT_SDK}"
        )
        headers = SECURITY_HEADERS | {"Content-Security-Policy": policy}
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=headers)


@router.get("/favicon.ico")
async def favicon() -> Response:
    """The tab icon for browsers and tools that ask for /favicon.ico without reading the page's
    ``<link rel="icon">`` (the same SVG: every current browser draws it)."""
    return Response(
        (STATIC_DIR / "favicon.svg").read_bytes(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    return _page(request, "home.html", {})


def shorten(question: str, limit: int = EXAMPLE_CHARS) -> str:
    """A question cut to ``limit`` characters, at a clause's end when there is one."""
    text = " ".join(question.split())
    if len(text) > limit:
        head = text[:limit]
        cut = max(head.rfind(mark) for mark in "，。？！；,.?!;")
        text = head[:cut] if cut >= limit // 3 else head.rstrip() + "…"
    return text.rstrip("，。？！；,.?!; ")


async def example_question(session: AsyncSession, industry: str | None) -> str:
    """The question box's example: the shortest case question of the site's industry, so a coal
    mine does not see a lathe alarm; the generic example when the industry has no case."""
    if industry:
        question = await session.scalar(
            select(Case.question)
            .where(Case.industry == industry)
            .order_by(func.length(Case.question), Case.id)
            .limit(1)
        )
        if example := shorten(question or ""):
            return example
    return texts.EXAMPLE_QUESTION


@router.get("/c/{site_code:path}", response_class=HTMLResponse)
async def chat(
    site_code: str, request: Request, session: SessionDep, wechat: WeChatDep, clock: ClockDep
) -> Response:
    """The worker chat of one site; an unknown code gets a friendly page (404). Inside WeChat,
    with the service account on, a detour through its silent authorisation first
    (docs/wechat.md)."""
    site = await session.get(Site, site_code)
    if site is None or not site.active:
        inactive = site is not None
        return _page(
            request, "site_not_found.html", {"code": site_code, "inactive": inactive}, status_code=404
        )
    if (detour := chat_detour(request, wechat, clock, site.code)) is not None:
        return detour
    data = {"site": site.code, "texts": texts.CHAT, **await chat_data(request, session, wechat, clock)}
    example = await example_question(session, site.industry)
    consent = "subscribe" in (data.get("wechat") or {})
    return _page(request, "chat.html", {"site": site, "data": data, "example": example}, wechat_sdk=consent)


@router.get("/n/{station_id}", response_class=HTMLResponse)
async def need_form(station_id: str, request: Request, session: SessionDep) -> HTMLResponse:
    """A station's needs-list form (需求清单) for enterprise unions; no account needed."""
    station = await session.get(Station, station_id)
    if station is None:
        return _page(request, "site_not_found.html", {"code": station_id, "inactive": False}, status_code=404)
    named = await session.scalars(select(Site.industry).where(Site.industry.is_not(None)).distinct())
    industries = sorted(i for i in named.all() if i)
    data = {"texts": texts.NEED_PAGE, "station": station.id, "max_photos": MAX_NEED_PHOTOS}
    return _page(request, "need.html", {"station": station, "industries": industries, "data": data})


@router.get("/needs/{need_id}", response_class=HTMLResponse)
async def need_status(need_id: str, request: Request) -> HTMLResponse:
    """The filer's status page; the token in the link's fragment never reaches the server."""
    data = {"texts": texts.NEED_PAGE, "need": need_id}
    return _page(request, "need.html", {"station": None, "data": data})


@router.get("/classes", response_class=HTMLResponse)
async def classes_page(request: Request, site: str | None = None) -> HTMLResponse:
    """The upcoming classes (公开课, 云课堂) with their sign-up forms; reached from the chat."""
    chosen = request.query_params.get("class")
    data = {"texts": texts.CLASSES, "mode": "catalogue", "site": site, "class": chosen}
    return _page(request, "classes.html", {"data": data, "mode": "catalogue"})


@router.get("/classes/signup/{signup_id}", response_class=HTMLResponse)
async def class_signup_page(signup_id: str, request: Request) -> HTMLResponse:
    """A sign-up's private page; the token in the link's fragment never reaches the server."""
    data = {"texts": texts.CLASSES, "mode": "signup", "signup": signup_id}
    return _page(request, "classes.html", {"data": data, "mode": "signup"})


@router.get("/k/{class_id}", response_class=HTMLResponse)
async def class_door_page(class_id: str, request: Request, door: str = "") -> HTMLResponse:
    """The door QR code's page: an attendee who signed up enters their phone to check in."""
    data = {"texts": texts.CLASSES, "mode": "door", "class": class_id, "door": door}
    return _page(request, "classes.html", {"data": data, "mode": "door"})


@router.get("/expert", response_class=HTMLResponse)
async def expert_console(request: Request) -> HTMLResponse:
    return _page(request, "expert.html", {"data": {"texts": texts.EXPERT}})


@router.get("/admin", response_class=HTMLResponse)
async def admin_pages(request: Request) -> HTMLResponse:
    return _page(request, "admin.html", {"data": {"texts": texts.ADMIN}})
