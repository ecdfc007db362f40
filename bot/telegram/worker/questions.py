"""A question typed into the chat, and the 解决了 / 没解决 buttons under a suggested case."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.service.ask import AskService, asker_key
from bot.service.experts import expert_names
from bot.service.feedback import record_feedback
from bot.service.tickets import TicketService
from bot.telegram import present, store
from bot.telegram.callbacks import FeedbackCb
from bot.telegram.keyboards import feedback_keyboard
from bot.telegram.worker.common import announce_ticket
from knowledge.states import Audience, Channel
from retrieval.corpus import CaseDoc

router = Router(name=__name__)


@router.message(F.text, ~F.text.startswith("/"))
async def question(
    message: Message, bot: Bot, ask: AskService, session: AsyncSession, public_url: str = ""
) -> None:
    chat_id = message.chat.id
    site = await store.chat_site(session, chat_id)
    result = await ask.ask(
        session,
        message.text or "",
        site,
        channel=Channel.TELEGRAM,
        worker_chat_id=chat_id,
        asker=asker_key(Channel.TELEGRAM, str(chat_id)),
    )
    outcome = result.outcome
    await message.answer(present.e(result.message))
    for hit in outcome.cases[: result.shown]:  # the case the policy stands behind; 解决了 on a
        await show_case(message, session, result.question_id, hit.case)  # proposed one closes the ticket
    if result.ticket is not None:  # confirm or route: the same call opened the ticket
        await announce_ticket(bot, chat_id, session, result.ticket.ticket)
    if result.classes:
        await message.answer(present.related_classes(result.classes, public_url))


async def show_case(message: Message, session: AsyncSession, question_id: str, case: CaseDoc) -> None:
    """A case with 解决了 / 没解决; the message is remembered so a press finds question and case."""
    solvers = await expert_names(session, [case.expert_id])
    text = present.suggestion(case.title, case.answer, solvers.get(case.expert_id or ""))
    sent = await message.answer(text, reply_markup=feedback_keyboard())
    await store.remember_message(
        session, message.chat.id, sent.message_id, Audience.WORKER, question_id=question_id, case_id=case.id
    )


@router.callback_query(FeedbackCb.filter())
async def feedback(
    callback: CallbackQuery,
    callback_data: FeedbackCb,
    bot: Bot,
    tickets: TicketService,
    session: AsyncSession,
) -> None:
    """Which question and case: the record of the pressed message in the presser's chat."""
    message = callback.message
    record = (
        await store.recorded(session, message.chat.id, message.message_id, Audience.WORKER)
        if message is not None
        else None
    )
    if message is None or record is None or record.question_id is None:
        await callback.answer(texts.TG_BUTTON_EXPIRED)
        return
    opened = await record_feedback(
        session,
        tickets,
        record.question_id,
        callback_data.solved,
        record.case_id,
        Channel.TELEGRAM,
        message.chat.id,
    )
    await callback.answer()
    if opened is None:
        await bot.send_message(message.chat.id, texts.TG_SOLVED)
    else:
        await announce_ticket(bot, message.chat.id, session, opened.ticket)
