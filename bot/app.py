"""The FastAPI application: API routers, the HTML pages and their static files, error handlers,
and the lifespan that owns the context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bot.context import AppContext, open_context
from bot.settings import Settings
from bot.telegram import webhook
from bot.web import pages
from bot.web.edge import EdgeMiddleware
from bot.web.errors import install_error_handlers
from bot.web.routes import (
    admin,
    ask,
    classes,
    events,
    expert,
    health,
    imports,
    needs,
    needs_admin,
    report,
    roster,
    stewards,
    telegram_admin,
    tickets,
    wechat,
)


def create_app(settings: Settings, context: AppContext | None = None) -> FastAPI:
    """Build the app. With ``context`` given (tests), the caller owns its lifetime."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if context is not None:
            yield
            return
        async with open_context(settings) as ctx:
            app.state.context = ctx
            yield

    app = FastAPI(title="craftdesk", version="1", lifespan=lifespan)
    if context is not None:
        app.state.context = context
    install_error_handlers(app)
    app.add_middleware(EdgeMiddleware, max_in_flight=settings.max_in_flight_requests)
    app.include_router(health.router)
    modules = (ask, tickets, expert, admin, roster, imports, stewards, telegram_admin, needs, needs_admin)
    for module in modules:
        app.include_router(module.router)
    app.include_router(report.router)
    app.include_router(classes.router)
    app.include_router(events.router)
    app.include_router(webhook.router)
    app.include_router(wechat.router)
    app.include_router(pages.router)
    app.mount("/static", pages.static_files(), name="static")
    return app
