"""Photos sent to the bot: the largest size Telegram offers, fetched into memory for the
service (which checks type and size again and stores it with the ticket)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import Message

from bot.service.photos import MAX_PHOTO_BYTES
from knowledge.errors import InvalidInputError


async def download_photo(bot: Bot, message: Message) -> bytes | None:
    if not message.photo:
        return None
    largest = message.photo[-1]
    if largest.file_size and largest.file_size > MAX_PHOTO_BYTES:
        raise InvalidInputError(f"photo: {largest.file_size} bytes, at most {MAX_PHOTO_BYTES} are allowed")
    buffer = await bot.download(largest.file_id)
    return buffer.read() if buffer is not None else None


def message_text(message: Message) -> str:
    return message.text or message.caption or ""
