"""The expert audience: accounts bound to an expert (``IsExpert`` on the parent router hands
the expert record to every handler). Anything else they send falls through to the worker
router: an expert may ask questions too."""

from __future__ import annotations

from aiogram import Router

from bot.telegram.expert import needs, queue, tickets
from bot.telegram.filters import IsExpert

router = Router(name=__name__)
router.message.filter(IsExpert())
router.callback_query.filter(IsExpert())
router.include_routers(queue.router, tickets.router, needs.router)
