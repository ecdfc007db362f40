"""Needs-list notifications on Telegram (the outbox's need_* kinds, ``OutboxEvent.ticket_id``
holding the need's id): a matched expert gets the need with 接受 / 婉拒, then its schedule and its
end; the Telegram admins hear when an expert accepts or declines. Everything is read from the
event's payload, never from a ticket."""

from __future__ import annotations

from datetime import datetime

from aiogram import Bot

from bot import texts
from bot.service.outbox import ADMIN, Notification
from bot.telegram import present
from bot.telegram.keyboards import need_keyboard
from knowledge.states import EventKind


def matched(event: Notification) -> str:
    p = event.payload
    return texts.TG_NEED_MATCHED.format(
        ref=present.ref(event.ticket_id),
        urgency=texts.NEED_URGENCY.get(p.get("urgency") or "", ""),
        enterprise=present.e(p.get("enterprise")),
        place=texts.TG_NEED_PLACE.format(region=present.e(p["region"])) if p.get("region") else "",
        problem=present.e(present.clip(p.get("problem") or "")),
        wanted="、".join(texts.NEED_HELP.get(m, m) for m in p.get("help_wanted") or []),
        workers=int(p.get("workers_affected") or 0),
    )


def scheduled(event: Notification) -> str:
    p = event.payload
    when = datetime.fromisoformat(p["help_at"]).astimezone(present.CHINA).strftime("%Y-%m-%d %H:%M")
    return texts.TG_NEED_SCHEDULED.format(
        ref=present.ref(event.ticket_id),
        mode=texts.NEED_HELP.get(p.get("help_mode") or "", ""),
        when=when,
        place=present.e(p.get("help_place") or "—"),
        enterprise=present.e(p.get("enterprise")),
    )


async def to_expert(bot: Bot, chat_id: int, event: Notification) -> bool:
    """The event for a matched expert's chat; False for a kind that is not for experts."""
    ref = present.ref(event.ticket_id)
    if event.kind == EventKind.NEED_MATCHED:
        await bot.send_message(chat_id, matched(event), reply_markup=need_keyboard(event.ticket_id))
    elif event.kind == EventKind.NEED_SCHEDULED and event.payload.get("help_at"):
        await bot.send_message(chat_id, scheduled(event))
    elif event.kind == EventKind.NEED_CHANGED and event.payload.get("change") in texts.TG_NEED_CLOSED:
        await bot.send_message(chat_id, texts.TG_NEED_CLOSED[event.payload["change"]].format(ref=ref))
    else:
        return False
    return True


async def to_admins(bot: Bot, admin_ids: list[int], event: Notification) -> bool:
    """A new need, or an expert's answer to one, for the Telegram admins (as escalations reach
    them)."""
    if event.recipient == ADMIN and event.kind == EventKind.NEED_FILED and admin_ids:
        p = event.payload
        text = texts.TG_NEED_FILED.format(
            ref=present.ref(event.ticket_id),
            urgency=texts.NEED_URGENCY.get(p.get("urgency") or "", ""),
            enterprise=present.e(p.get("enterprise")),
            station=present.e(p.get("station")),
            problem=present.e(present.clip(p.get("problem") or "")),
        )
        for admin_id in admin_ids:
            await bot.send_message(admin_id, text)
        return True
    line = texts.TG_NEED_ANSWERED.get(event.payload.get("change") or "")
    if event.recipient != ADMIN or event.kind != EventKind.NEED_CHANGED or line is None or not admin_ids:
        return False
    text = line.format(
        name=present.e(event.payload.get("expert_name")),
        ref=present.ref(event.ticket_id),
        enterprise=present.e(event.payload.get("enterprise")),
    )
    for admin_id in admin_ids:
        await bot.send_message(admin_id, text)
    return True
