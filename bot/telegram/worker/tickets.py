"""The worker's side of a ticket: replies into its thread (text or photo), ``/my``, and
the rating buttons under an answer, which close it."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.service.chats import latest_open_ticket, ticket_for_chat, tickets_for_chat
from bot.service.tickets import TicketService
from bot.telegram import present, store
from bot.telegram.callbacks import RateCb
from bot.telegram.filters import RepliesTo
from bot.telegram.photos import download_photo, message_text
from knowledge.models import TelegramMessage
from knowledge.states import Audience, Channel

router = Router(name=__name__)


@router.message(Command("my"))
async def my_tickets(message: Message, session: AsyncSession) -> None:
    tickets = await tickets_for_chat(session, Channel.TELEGRAM, message.chat.id)
    experts = await store.experts_by_id(session, {t.expert_id for t in tickets if t.expert_id})
    await message.answer(present.my_tickets(tickets, experts))


@router.message(RepliesTo(Audience.WORKER), F.text | F.photo)
async def reply_into_ticket(
    message: Message, record: TelegramMessage, bot: Bot, tickets: TicketService, session: AsyncSession
) -> None:
    ticket = await ticket_for_chat(session, record.ticket_id or "", Channel.TELEGRAM, message.chat.id)
    photo = await download_photo(bot, message)
    await tickets.worker_writes(session, ticket, message_text(message), photo=photo)
    await message.answer(texts.TG_WORKER_SENT)


@router.message(F.photo)
async def loose_photo(message: Message, bot: Bot, tickets: TicketService, session: AsyncSession) -> None:
    """A photo that replies to nothing goes to the chat's newest open ticket."""
    ticket = await latest_open_ticket(session, Channel.TELEGRAM, message.chat.id)
    if ticket is None:
        await message.answer(texts.TG_PHOTO_WITHOUT_TICKET)
        return
    await tickets.worker_writes(
        session, ticket, message_text(message), photo=await download_photo(bot, message)
    )
    await message.answer(texts.TG_WORKER_SENT)


@router.callback_query(RateCb.filter())
async def rate(
    callback: CallbackQuery, callback_data: RateCb, bot: Bot, tickets: TicketService, session: AsyncSession
) -> None:
    """The ticket id in the data is only a claim: the ticket must belong to this chat."""
    if callback.message is None:
        await callback.answer(texts.TG_BUTTON_EXPIRED)
        return
    chat_id = callback.message.chat.id
    ticket = await ticket_for_chat(session, callback_data.ticket_id, Channel.TELEGRAM, chat_id)
    await tickets.close(session, ticket, callback_data.stars)
    await callback.answer()
    await bot.send_message(chat_id, texts.TG_RATED.format(stars=present.stars(callback_data.stars)))
