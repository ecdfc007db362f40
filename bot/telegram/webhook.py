"""``POST /telegram/webhook``: updates Telegram posts in webhook mode. Only requests carrying
the secret token given to ``setWebhook`` (header X-Telegram-Bot-Api-Secret-Token) are
handled; anything else is 401. Include with ``app.include_router(webhook.router)``.

An update Telegram sends again (same ``update_id``: its first delivery was not acknowledged in
time, maybe to another instance) is acknowledged and not handled twice: the ids are kept in
Redis when it is configured, else in this process (``bot.shared_state``)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response
from pydantic import ValidationError

from bot.providers import TelegramDep
from bot.service.secrets import same_secret

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

router = APIRouter(tags=["telegram"])


@router.post(WEBHOOK_PATH, include_in_schema=False)
async def telegram_webhook(
    request: Request,
    channel: TelegramDep,
    secret: Annotated[str | None, Header(alias=SECRET_HEADER)] = None,
) -> Response:
    """The secret is checked before the body is even read."""
    if channel is None or not channel.webhook_mode:
        raise HTTPException(404, "the Telegram webhook is not enabled here")
    if secret is None or not same_secret(secret, channel.secret_token):
        raise HTTPException(401, "wrong or missing secret token")
    try:
        update = json.loads(await request.body())
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(update, dict):
        raise HTTPException(400, "the body is not a Telegram update")
    update_id = update.get("update_id")
    key = f"{channel.bot_id}:{update_id}" if isinstance(update_id, int) else None
    if key is not None and not await channel.seen_updates.begin(key):
        return Response(status_code=200)  # handled, or being handled: by us or another instance
    handled = False
    try:
        await channel.feed(update)
        handled = True
    except ValidationError as exc:  # JSON, but not an update Telegram would send
        raise HTTPException(
            400, f"the body is not a Telegram update ({exc.error_count()} problems)"
        ) from None
    finally:
        if key is not None:
            await channel.seen_updates.finish(key, handled)
    return Response(status_code=200)
