"""Admin: one-time Telegram binding links for experts (``t.me/<bot>?start=bind-<code>``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from bot.providers import ClockDep, SessionDep, SettingsDep, TelegramDep
from bot.service.binding import binding_link, issue_bind_code
from bot.web.deps import AdminDep
from knowledge.errors import ConflictError

router = APIRouter(prefix="/api/admin", tags=["admin"])


class TelegramLinkOut(BaseModel):
    link: str
    expires_at: str


async def bot_username(settings: SettingsDep, telegram: TelegramDep) -> str:
    if settings.telegram.bot_username:
        return settings.telegram.bot_username
    if telegram is not None:
        return await telegram.username()
    raise ConflictError(
        "the Telegram bot is not configured: set CRAFTDESK_BOT_TOKEN (or CRAFTDESK_TELEGRAM__BOT_USERNAME)"
    )


@router.post("/experts/{expert_id}/telegram-link", status_code=201, response_model=TelegramLinkOut)
async def telegram_link(
    expert_id: str,
    _: AdminDep,
    username: Annotated[str, Depends(bot_username)],
    settings: SettingsDep,
    clock: ClockDep,
    session: SessionDep,
) -> TelegramLinkOut:
    """A single-use link that ties the Telegram account opening it to this expert; earlier
    unused links of the expert stop working."""
    minutes = settings.telegram.bind_code_minutes
    code = await issue_bind_code(session, expert_id, clock, timedelta(minutes=minutes))
    return TelegramLinkOut(link=binding_link(username, code.code), expires_at=code.expires_at.isoformat())
