"""Callback data of the inline buttons. Never trusted: the handlers check the presser
against the ticket, or read the question from the message record of the presser's chat."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class FeedbackCb(CallbackData, prefix="fb"):
    """解决了 / 没解决 under a suggested case (which question and case: the message record)."""

    solved: bool


class TicketAction(StrEnum):
    claim = "claim"
    decline = "decline"
    case_right = "right"  # the proposed case answers it
    case_wrong = "wrong"  # it does not: the expert answers


class TicketCb(CallbackData, prefix="tk"):
    """An expert's button on a ticket message."""

    action: TicketAction
    ticket_id: str


class RateCb(CallbackData, prefix="rate"):
    """The worker's rating of an answered ticket (closes it)."""

    ticket_id: str
    stars: int


class NeedCb(CallbackData, prefix="nd"):
    """A matched expert's answer to a need (需求清单): accept or decline."""

    accept: bool
    need_id: str
