"""The outbox's Telegram adapter (``Notifier``): an answer reaches the worker's chat when the
ticket came from Telegram; assignments, follow-ups and closings reach experts who bound a
Telegram account; escalations reach the Telegram admins. Events already delivered (by this
or another instance) are dropped by id; a chat that blocked the bot is given up on, while
network and server errors raise so that the outbox tries again. Flood control (429,
``TelegramRetryAfter``) becomes ``DeliveryDeferred``: the outbox waits as long as Telegram
asks, and since the limit is per bot, it holds the rest of its batch too."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.service.outbox import ADMIN, WORKER, DeliveryDeferred, Notification, expert_of
from bot.service.photo_store import PhotoStore
from bot.telegram import need_notices, present, store
from bot.telegram.keyboards import rating_keyboard, ticket_keyboard
from knowledge.errors import NotFoundError
from knowledge.models import Case, ClassSignup, Expert, Site, Ticket
from knowledge.states import Audience, Channel, EventKind, Proposal, Subject, subject_of

log = logging.getLogger(__name__)


class TelegramNotifier:
    def __init__(
        self, bot: Bot, sessions: async_sessionmaker[AsyncSession], photos: PhotoStore, admin_ids: list[int]
    ):
        self.bot = bot
        self.sessions = sessions
        self.photos = photos
        self.admin_ids = list(admin_ids)

    async def deliver(self, event: Notification) -> None:
        async with self.sessions() as session:
            if await store.was_delivered(session, event.id):
                return
            try:
                sent = await self._send(session, event)
            except TelegramRetryAfter as exc:
                raise DeliveryDeferred(exc.retry_after) from exc
            except (TelegramForbiddenError, TelegramBadRequest) as exc:  # blocked, chat gone
                log.warning("telegram notification given up", extra={"event": event.id, "error": str(exc)})
                sent = True
            if sent:
                await store.mark_delivered(session, event.id)

    async def _send(self, session: AsyncSession, event: Notification) -> bool:
        """Send what the event means on Telegram; False when it is not for this channel."""
        if subject_of(EventKind(event.kind)) == Subject.NEED:  # a need's id: nothing below may read a ticket
            return await self._need(session, event)
        if event.recipient == WORKER:
            return await self._to_worker(session, event)
        if (expert_id := expert_of(event.recipient)) is not None:
            expert = await session.get(Expert, expert_id)
            if expert is None or expert.telegram_id is None:
                return False
            return await self._to_expert(session, event, expert.telegram_id)
        if event.recipient == ADMIN and event.kind == EventKind.ESCALATED and self.admin_ids:
            text = texts.TG_ADMIN_ESCALATED.format(
                ref=present.ref(event.ticket_id),
                text=present.e(present.clip(event.payload.get("text") or "")),
            )
            for admin_id in self.admin_ids:
                await self.bot.send_message(admin_id, text)
            return True
        return False

    async def _need(self, session: AsyncSession, event: Notification) -> bool:
        if (expert_id := expert_of(event.recipient)) is not None:
            expert = await session.get(Expert, expert_id)
            if expert is None or expert.telegram_id is None:
                return False
            return await need_notices.to_expert(self.bot, expert.telegram_id, event)
        return await need_notices.to_admins(self.bot, self.admin_ids, event)

    async def _to_worker(self, session: AsyncSession, event: Notification) -> bool:
        if event.kind == EventKind.CLASS_RECORDING:
            return await self._recording(session, event)
        payload = event.payload
        chat_id = payload.get("chat_id")
        if payload.get("channel") != Channel.TELEGRAM or chat_id is None or event.kind != EventKind.ANSWERED:
            return False
        text = present.answer(
            payload.get("expert_name"), payload.get("expert_title"), payload.get("text") or ""
        )
        await self._post(session, chat_id, event, text, rating_keyboard(event.ticket_id), Audience.WORKER)
        return True

    async def _recording(self, session: AsyncSession, event: Notification) -> bool:
        """A class's recording, to a sign-up made from Telegram (``ticket_id``: the sign-up);
        a web sign-up reads it on its page: not for this channel."""
        signup = await session.get(ClassSignup, event.ticket_id)
        if signup is None or signup.telegram_chat_id is None or signup.cancelled_at is not None:
            return False
        text = present.class_recording(event.payload.get("title") or "", event.payload.get("url") or "")
        await self.bot.send_message(signup.telegram_chat_id, text)
        return True

    async def _to_expert(self, session: AsyncSession, event: Notification, chat_id: int) -> bool:
        payload = event.payload
        ref = present.ref(event.ticket_id)
        if event.kind in (EventKind.ASSIGNED, EventKind.OFFERED):
            ticket = await session.get(Ticket, event.ticket_id)
            site = await session.get(Site, ticket.site_code) if ticket and ticket.site_code else None
            offered = event.kind == EventKind.OFFERED  # to a team: its name (none before teams: the city's)
            team = (payload.get("team") or texts.TEAM_TIERS["city"]) if offered else None
            text = present.expert_ticket(event.ticket_id, payload.get("text") or "", site, team=team)
            case = (
                await session.get(Case, ticket.proposed_case_id)
                if ticket and ticket.proposal == Proposal.PENDING and ticket.proposed_case_id
                else None
            )
            if case is not None:
                text += present.proposal(case.title, case.answer)
            await self._post(
                session,
                chat_id,
                event,
                text,
                ticket_keyboard(event.ticket_id, case is not None),
                Audience.EXPERT,
            )
        elif event.kind == EventKind.REMINDED:
            ticket = await session.get(Ticket, event.ticket_id)
            site = await session.get(Site, ticket.site_code) if ticket and ticket.site_code else None
            text = present.reminder(
                event.ticket_id, payload.get("text") or "", site, payload.get("minutes_left")
            )
            await self._post(session, chat_id, event, text, ticket_keyboard(event.ticket_id), Audience.EXPERT)
        elif event.kind == EventKind.MESSAGE:
            text = present.followup(event.ticket_id, payload.get("text") or "")
            await self._post(session, chat_id, event, text, None, Audience.EXPERT)
        elif event.kind == EventKind.REASSIGNED:
            reason = payload.get("reason") or ""
            reason = texts.TG_REASSIGN_REASONS.get(reason, present.e(reason))
            await self.bot.send_message(chat_id, texts.TG_EXPERT_REASSIGNED.format(ref=ref, reason=reason))
        elif event.kind == EventKind.CLOSED:
            rating = payload.get("rating")
            text = (
                texts.TG_EXPERT_SOLVED_BY_CASE.format(ref=ref)
                if payload.get("solved_by_case")
                else texts.TG_EXPERT_CLOSED.format(ref=ref, stars=present.stars(rating))
                if rating
                else texts.TG_EXPERT_CLOSED_UNRATED.format(ref=ref)
            )
            await self.bot.send_message(chat_id, text)
        else:
            return False
        return True

    async def _post(
        self,
        session: AsyncSession,
        chat_id: int,
        event: Notification,
        text: str,
        keyboard: InlineKeyboardMarkup | None,
        audience: str,
    ) -> None:
        """The event's photo (if any) first, then its text, recorded so replies and buttons
        find the ticket."""
        photo = await self._photo(event.ticket_id, event.payload)
        if photo is not None:
            await self.bot.send_photo(chat_id, BufferedInputFile(photo, event.payload["photo"]))
        sent = await self.bot.send_message(chat_id, text, reply_markup=keyboard)
        await store.remember_message(session, chat_id, sent.message_id, audience, ticket_id=event.ticket_id)

    async def _photo(self, ticket_id: str, payload: dict[str, Any]) -> bytes | None:
        name = payload.get("photo")
        if not name:
            return None
        try:
            return await self.photos.read(ticket_id, name)
        except NotFoundError:
            return None
