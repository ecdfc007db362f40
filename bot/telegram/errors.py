"""The one place where errors become replies: domain errors get a short Chinese answer (and
an info log line); anything else is logged with its traceback and gets an apology."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent

from bot import texts
from knowledge.errors import AccessDeniedError, ConflictError, InvalidInputError, NotFoundError

log = logging.getLogger(__name__)
router = Router(name=__name__)

REPLIES: dict[type[Exception], str] = {
    AccessDeniedError: texts.TG_NOT_YOUR_TICKET,
    NotFoundError: texts.TG_ERROR_NOT_FOUND,
    InvalidInputError: texts.TG_ERROR_INVALID,
    ConflictError: texts.TG_ERROR_CONFLICT,
}


def reply_for(exc: Exception) -> str | None:
    return next((text for cls, text in REPLIES.items() if isinstance(exc, cls)), None)


@router.errors()
async def on_error(event: ErrorEvent) -> bool:
    exc = event.exception
    reply = reply_for(exc)
    if reply is None:
        log.error("telegram update failed", exc_info=exc, extra={"update": event.update.update_id})
        reply = texts.TG_ERROR_INTERNAL
    else:
        log.info("telegram request refused", extra={"error": type(exc).__name__, "detail": str(exc)})
    try:
        if event.update.callback_query is not None:
            await event.update.callback_query.answer(reply, show_alert=True)
        elif event.update.message is not None:
            await event.update.message.answer(reply)
    except TelegramAPIError:
        log.warning("could not tell the user about an error", exc_info=True)
    return True
