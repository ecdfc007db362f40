"""An expert's tickets: claim / decline buttons and answers given by replying to a ticket
message. The presser is checked against the ticket by the service (``for_expert``, ``claim``,
``decline``, ``answer``): a ticket that is not theirs only earns a refusal."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.service.tickets import TicketService
from bot.telegram.callbacks import TicketAction, TicketCb
from bot.telegram.filters import RepliesTo
from bot.telegram.photos import download_photo, message_text
from knowledge.models import Expert, TelegramMessage
from knowledge.states import Audience

router = Router(name=__name__)


@router.callback_query(TicketCb.filter(F.action == TicketAction.claim))
async def claim(
    callback: CallbackQuery,
    callback_data: TicketCb,
    expert: Expert,
    tickets: TicketService,
    session: AsyncSession,
) -> None:
    await tickets.for_expert(session, callback_data.ticket_id, expert.id)
    await tickets.claim(session, callback_data.ticket_id, expert.id)
    await callback.answer(texts.TG_CLAIMED, show_alert=True)


@router.callback_query(TicketCb.filter(F.action == TicketAction.decline))
async def decline(
    callback: CallbackQuery,
    callback_data: TicketCb,
    expert: Expert,
    tickets: TicketService,
    session: AsyncSession,
) -> None:
    await tickets.decline(session, callback_data.ticket_id, expert.id)
    await callback.answer(texts.TG_DECLINED, show_alert=True)


@router.callback_query(TicketCb.filter(F.action.in_({TicketAction.case_right, TicketAction.case_wrong})))
async def settle_proposal(
    callback: CallbackQuery,
    callback_data: TicketCb,
    expert: Expert,
    tickets: TicketService,
    session: AsyncSession,
) -> None:
    """One tap on the proposed case: right (the worker gets it now) or wrong (answer it)."""
    right = callback_data.action == TicketAction.case_right
    await tickets.settle_proposal(session, callback_data.ticket_id, expert.id, right)
    await callback.answer(texts.TG_CASE_CONFIRMED if right else texts.TG_CASE_DECLINED, show_alert=True)


@router.message(RepliesTo(Audience.EXPERT), F.text | F.photo)
async def answer(
    message: Message,
    record: TelegramMessage,
    expert: Expert,
    bot: Bot,
    tickets: TicketService,
    session: AsyncSession,
) -> None:
    await tickets.answer(
        session,
        record.ticket_id or "",
        expert.id,
        message_text(message),
        photo=await download_photo(bot, message),
    )
    await message.answer(texts.TG_EXPERT_ANSWER_SENT)
