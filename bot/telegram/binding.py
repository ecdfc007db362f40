"""``/start bind-<code>``: the one-time link an admin issued ties this account to an expert.
Before the worker router (which takes every other ``/start``); private chats only."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.service.binding import BIND_PREFIX, redeem_bind_code
from bot.service.clock import Clock
from bot.telegram import present
from knowledge.errors import NotFoundError

router = Router(name=__name__)


@router.message(
    CommandStart(deep_link=True, magic=F.args.startswith(BIND_PREFIX)),
    F.chat.type == ChatType.PRIVATE,
    F.from_user,
)
async def bind(message: Message, command: CommandObject, clock: Clock, session: AsyncSession) -> None:
    code = (command.args or "").removeprefix(BIND_PREFIX)
    try:
        expert = await redeem_bind_code(session, code, message.from_user.id, clock)  # type: ignore[union-attr]
    except NotFoundError:
        await message.answer(texts.TG_BIND_FAILED)
        return
    await message.answer(texts.TG_BIND_DONE.format(name=present.e(expert.name)))
