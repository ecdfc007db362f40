"""``/stats`` (the union's figures) and ``/reindex`` (start a rebuild, or show its progress)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.reindex import Reindexer
from bot.service.stats import compute_stats
from bot.telegram import present

router = Router(name=__name__)


@router.message(Command("stats"))
async def stats(message: Message, session: AsyncSession) -> None:
    await message.answer(present.stats(await compute_stats(session)))


@router.message(Command("reindex"))
async def reindex(message: Message, reindexer: Reindexer) -> None:
    await message.answer(present.reindex((await reindexer.start()).as_dict()))
