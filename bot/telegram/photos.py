"""Photos sent to the bot: the largest size Telegram offers, fetched into memory for the
service (which checks type and size again and stores it with the ticket)."""

from __future__ import annotations

import aiohttp
from aiogram import Bot
from aiogram.types import Message

from bot.service.photos import MAX_PHOTO_BYTES
from knowledge.errors import InvalidInputError


class PhotoDownloadError(RuntimeError):
    """Telegram would not hand over a file; says why without the file URL."""


async def download_photo(bot: Bot, message: Message) -> bytes | None:
    if not message.photo:
        return None
    largest = message.photo[-1]
    if largest.file_size and largest.file_size > MAX_PHOTO_BYTES:
        raise InvalidInputError(f"photo: {largest.file_size} bytes, at most {MAX_PHOTO_BYTES} are allowed")
    try:
        buffer = await bot.download(largest.file_id)
    except aiohttp.ClientError as exc:
        # aiohttp's message holds the file URL, which holds the bot token: drop it and its
        # chained traceback (``from None``) before the central error handler logs it
        status = getattr(exc, "status", None)
        raise PhotoDownloadError(
            f"telegram photo download failed: {type(exc).__name__}" + (f" (HTTP {status})" if status else "")
        ) from None
    return buffer.read() if buffer is not None else None


def message_text(message: Message) -> str:
    return message.text or message.caption or ""
