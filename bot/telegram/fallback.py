"""Last in line: a ticket button pressed by someone who is no expert, stale buttons, and
messages no other handler took (stickers, voice, unknown commands)."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from bot import texts
from bot.telegram.callbacks import TicketCb

router = Router(name=__name__)


@router.callback_query(TicketCb.filter())
async def not_an_expert(callback: CallbackQuery) -> None:
    await callback.answer(texts.TG_NOT_YOUR_TICKET, show_alert=True)


@router.callback_query()
async def stale_button(callback: CallbackQuery) -> None:
    await callback.answer(texts.TG_BUTTON_EXPIRED)


@router.message()
async def anything_else(message: Message) -> None:
    await message.answer(texts.TG_WELCOME)
