"""The process's dispatcher: routers, middlewares and the error handler, put together once
(an aiogram router can belong to one parent only). It holds no service and no state of a run:
each run hands the services over as workflow data (``start_polling(bot, **services.
workflow_data())``, ``feed_update(bot, update, **...)``, ``bot.telegram.services``), and aiogram
gives every handler and filter what it names, next to ``session`` from the middleware."""

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
