"""Inline keyboards, one builder per kind of message."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import texts
from bot.telegram.callbacks import FeedbackCb, NeedCb, RateCb, TicketAction, TicketCb


def feedback_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=texts.TG_BTN_SOLVED, callback_data=FeedbackCb(solved=True))
    builder.button(text=texts.TG_BTN_NOT_SOLVED, callback_data=FeedbackCb(solved=False))
    return builder.as_markup()


def ticket_keyboard(ticket_id: str, proposal: bool = False) -> InlineKeyboardMarkup:
    """Claim / pass on; with a proposed case first the one-tap right / wrong."""
    builder = InlineKeyboardBuilder()
    if proposal:
        builder.button(
            text=texts.TG_BTN_CASE_RIGHT,
            callback_data=TicketCb(action=TicketAction.case_right, ticket_id=ticket_id),
        )
        builder.button(
            text=texts.TG_BTN_CASE_WRONG,
            callback_data=TicketCb(action=TicketAction.case_wrong, ticket_id=ticket_id),
        )
    else:
        builder.button(
            text=texts.TG_BTN_CLAIM, callback_data=TicketCb(action=TicketAction.claim, ticket_id=ticket_id)
        )
    builder.button(
        text=texts.TG_BTN_DECLINE, callback_data=TicketCb(action=TicketAction.decline, ticket_id=ticket_id)
    )
    builder.adjust(2, 1)
    return builder.as_markup()


def rating_keyboard(ticket_id: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for stars in range(1, 6):
        builder.button(text="★" * stars, callback_data=RateCb(ticket_id=ticket_id, stars=stars))
    builder.adjust(5)
    return builder.as_markup()


def need_keyboard(need_id: str) -> InlineKeyboardMarkup:
    """接受 / 婉拒 under a need an expert was matched to."""
    builder = InlineKeyboardBuilder()
    builder.button(text=texts.TG_BTN_NEED_ACCEPT, callback_data=NeedCb(accept=True, need_id=need_id))
    builder.button(text=texts.TG_BTN_NEED_DECLINE, callback_data=NeedCb(accept=False, need_id=need_id))
    return builder.as_markup()
