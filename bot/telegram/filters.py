"""Audience filters (applied once on each audience's parent router) and the filter that
finds the recorded message a reply answers."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message, TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.binding import expert_by_telegram
from bot.settings import TelegramSettings
from bot.telegram import store


class IsAdmin(Filter):
    """Telegram ids listed in CRAFTDESK_TELEGRAM__ADMIN_IDS."""

    async def __call__(self, event: TelegramObject, bot_settings: TelegramSettings) -> bool:
        user = getattr(event, "from_user", None)
        return user is not None and user.id in bot_settings.admin_ids


class IsExpert(Filter):
    """An account bound to an expert; the expert record is handed to the handlers."""

    async def __call__(self, event: Message | CallbackQuery, session: AsyncSession) -> bool | dict[str, Any]:
        if event.from_user is None:
            return False
        expert = await expert_by_telegram(session, event.from_user.id)
        return {"expert": expert} if expert is not None else False


class RepliesTo(Filter):
    """A reply to a message the bot recorded for this audience; the record is handed on."""

    def __init__(self, audience: str):
        self.audience = audience

    async def __call__(self, message: Message, session: AsyncSession) -> bool | dict[str, Any]:
        original = message.reply_to_message
        if original is None:
            return False
        record = await store.recorded(session, message.chat.id, original.message_id, self.audience)
        if record is None or record.ticket_id is None:
            return False
        return {"record": record}
