"""The process's dispatcher: routers, middlewares and the error handler, put together once
(an aiogram router can belong to one parent only). The ``AppContext`` is not baked in: each
run hands it over as ``context`` (``start_polling(bot, context=...)``, ``feed_update(bot,
update, context=...)``), and aiogram puts it into the workflow data every handler and filter
receives, next to ``session`` from the middleware."""

from __future__ import annotations

import functools

from aiogram import Dispatcher

from bot.telegram.middlewares import ChatOrderMiddleware, DbSessionMiddleware, FloodMiddleware
from bot.telegram.routers import get_routers


@functools.cache
def get_dispatcher() -> Dispatcher:
    dispatcher = Dispatcher(name="craftdesk")
    dispatcher.update.outer_middleware(FloodMiddleware())
    dispatcher.update.outer_middleware(ChatOrderMiddleware())
    dispatcher.update.outer_middleware(sessions_middleware())
    dispatcher.include_routers(*get_routers())
    return dispatcher


@functools.cache
def sessions_middleware() -> DbSessionMiddleware:
    return DbSessionMiddleware()
