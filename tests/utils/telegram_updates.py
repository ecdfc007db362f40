"""Updates as Telegram would send them, for feeding the dispatcher in tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from aiogram.types import CallbackQuery, Chat, Message, PhotoSize, Update, User

from tests.utils.mocked_bot import BOT_ID

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


def user(user_id: int) -> User:
    return User(id=user_id, is_bot=False, first_name=f"工人{user_id}", language_code="zh-hans")


def private_chat(chat_id: int) -> Chat:
    return Chat(id=chat_id, type="private")


def message(
    chat_id: int,
    text: str | None = None,
    *,
    user_id: int | None = None,
    reply_to: int | None = None,
    photo_id: str | None = None,
    caption: str | None = None,
    **extra: Any,
) -> Update:
    original = None
    if reply_to is not None:
        original = Message(
            message_id=reply_to,
            date=datetime.now(UTC),
            chat=private_chat(chat_id),
            from_user=User(id=BOT_ID, is_bot=True, first_name="bot"),
            text="…",
        )
    photo = (
        [PhotoSize(file_id=photo_id, file_unique_id=photo_id, width=640, height=480, file_size=100)]
        if photo_id
        else None
    )
    return Update(
        update_id=next(_update_ids),
        message=Message(
            message_id=next(_message_ids),
            date=datetime.now(UTC),
            chat=private_chat(chat_id),
            from_user=user(user_id or chat_id),
            text=text,
            reply_to_message=original,
            photo=photo,
            caption=caption,
            **extra,
        ),
    )


def press(chat_id: int, data: str, message_id: int, *, user_id: int | None = None) -> Update:
    """A button press on the bot's message ``message_id`` in ``chat_id``."""
    pressed = Message(
        message_id=message_id,
        date=datetime.now(UTC),
        chat=private_chat(chat_id),
        from_user=User(id=BOT_ID, is_bot=True, first_name="bot"),
        text="…",
    )
    return Update(
        update_id=next(_update_ids),
        callback_query=CallbackQuery(
            id=str(next(_update_ids)),
            from_user=user(user_id or chat_id),
            chat_instance=str(chat_id),
            message=pressed,
            data=data,
        ),
    )
