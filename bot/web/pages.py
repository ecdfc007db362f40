"""HTML pages: the worker chat a site's QR code opens, the expert console and the admin pages.

The pages are thin shells rendered with Jinja (autoescaped); their scripts call the JSON API.
Every asset is served by the app itself: factory intranets are often offline.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from bot.providers import SessionDep
from bot.web import texts
from knowledge.models import Site

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


@cache
def asset(name: str) -> str:
    """The URL of a static file with its content hash, so phones never run a stale script."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]
    return f"/static/{name}?v={digest}"


templates = Jinja2Templates(directory=WEB_DIR / "templates")
templates.env.globals["asset"] = asset


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=SECURITY_HEADERS
    )


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    return _page(request, "home.html", {})


@router.get("/c/{site_code:path}", response_class=HTMLResponse)
async def chat(site_code: str, request: Request, session: SessionDep) -> HTMLResponse:
    """The worker chat of one site; an unknown code gets a friendly page (404)."""
    site = await session.get(Site, site_code)
    if site is None:
        return _page(request, "site_not_found.html", {"code": site_code}, status_code=404)
    data = {"site": site.code, "texts": texts.CHAT}
    return _page(request, "chat.html", {"site": site, "data": data})


@router.get("/expert", response_class=HTMLResponse)
async def expert_console(request: Request) -> HTMLResponse:
    return _page(request, "expert.html", {"data": {"texts": texts.EXPERT}})


@router.get("/admin", response_class=HTMLResponse)
async def admin_pages(request: Request) -> HTMLResponse:
    return _page(request, "admin.html", {"data": {"texts": texts.ADMIN}})
