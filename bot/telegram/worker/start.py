"""``/start`` (the site QR code's deep link ``t.me/<bot>?start=<site>``) and help."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.telegram import present, store
from knowledge.models import Site

router = Router(name=__name__)


@router.message(CommandStart(deep_link=True))
async def start_at_site(message: Message, command: CommandObject, session: AsyncSession) -> None:
    site = await store.remember_site(session, message.chat.id, command.args or "")
    await message.answer(present.welcome(site) if site else texts.TG_UNKNOWN_SITE)


@router.message(CommandStart())
@router.message(Command("help"))
async def start(message: Message, session: AsyncSession) -> None:
    code = await store.chat_site(session, message.chat.id)
    site = await session.get(Site, code) if code else None
    await message.answer(present.welcome(site))
