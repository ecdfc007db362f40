"""The admin audience: Telegram ids listed in the settings (``IsAdmin`` on the parent)."""

from __future__ import annotations

from aiogram import Router

from bot.telegram.admin import commands
from bot.telegram.filters import IsAdmin

router = Router(name=__name__)
router.message.filter(IsAdmin())
router.include_routers(commands.router)
