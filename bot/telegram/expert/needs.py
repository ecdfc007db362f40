"""A matched expert's 接受 / 婉拒 under a need (需求清单). The presser is checked by the service:
an expert not matched to the need finds nothing (the error handler says so)."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.service.needs import NeedsService
from bot.telegram.callbacks import NeedCb
from knowledge.models import Expert

router = Router(name=__name__)


@router.callback_query(NeedCb.filter())
async def respond(
    callback: CallbackQuery,
    callback_data: NeedCb,
    expert: Expert,
    needs: NeedsService,
    session: AsyncSession,
) -> None:
    await needs.respond(session, callback_data.need_id, expert.id, callback_data.accept)
    await callback.answer(
        texts.TG_NEED_ACCEPTED if callback_data.accept else texts.TG_NEED_DECLINED, show_alert=True
    )
