"""The worker audience: every chat (no filter on the parent). Commands first, then replies
into tickets, then anything else typed is a question."""

from __future__ import annotations

from aiogram import Router

from bot.telegram.worker import questions, start, tickets

router = Router(name=__name__)
router.include_routers(start.router, tickets.router, questions.router)
