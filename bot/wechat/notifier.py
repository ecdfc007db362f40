"""The outbox's WeChat adapters (``Notifier``): the service account (服务号) and the WeCom app.

- Service account: an answer (ANSWERED) reaches the worker who asked in WeChat (the ticket's
  ``worker_openid``) unless they turned notifications off, as a template or subscribe message
  (``settings.wechat.message_kind``) opening their ticket in the chat; a ticket given or
  offered to an expert, its reminder before it moves on, or the worker's follow-up (ASSIGNED,
  OFFERED, REMINDED, MESSAGE), reaches an expert who bound WeChat, opening the console through
  a fresh single-use link.
- WeCom app: the same expert events, as a text card to the expert's WeCom user id; a ticket
  escalated to the admin queue (ESCALATED), to the stewards whose scope holds its site; a need
  an enterprise filed (NEED_FILED), to the stewards who look after its station or region.

Each channel drops events it sent already (``channel_deliveries``, shared by every instance);
the template message carries the event id as ``client_msg_id`` too, so WeChat itself drops a
resend after a lost answer. An unreachable recipient (not following, refused, unknown) is
logged and the event counted as delivered, never retried; a busy or failing platform raises, so
the outbox backs off and tries again. Sign-ups, and needs past their filing, are not for these
channels.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.service.clock import Clock
from bot.service.needs import in_scope
from bot.service.outbox import ADMIN, WORKER, Notification, expert_of
from bot.service.stewards import scope_sites
from bot.service.wechat_identity import subscribed, use_subscription, wants_notifications
from bot.service.wechat_links import enter_path, issue_link_code
from bot.settings import Settings
from bot.wechat.api import ServiceAccount, WeComApp
from bot.wechat.errors import RecipientUnreachable
from knowledge.models import ChannelDelivery, Expert, Need, Site, Steward, Ticket
from knowledge.states import EventKind, Subject, subject_of

log = logging.getLogger(__name__)

THING_CHARS = 20  # a template's ``thing`` value, as WeChat takes it
EXPERT_KINDS = frozenset({EventKind.ASSIGNED, EventKind.OFFERED, EventKind.MESSAGE, EventKind.REMINDED})


def clip(text: str, limit: int = THING_CHARS) -> str:
    """One line of at most ``limit`` characters (an ellipsis when cut)."""
    line = " ".join((text or "").split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def ticket_page(public_url: str, site_code: str, ticket_id: str) -> str:
    """The chat page opening one ticket (``?ticket=``: kept through the WeChat authorisation,
    which a ``#fragment`` would not be)."""
    return f"{public_url}/c/{site_code}?ticket={ticket_id}"


async def was_delivered(session: AsyncSession, event_id: int, channel: str) -> bool:
    return await session.get(ChannelDelivery, (event_id, channel)) is not None


async def mark_delivered(session: AsyncSession, event_id: int, channel: str) -> None:
    session.add(ChannelDelivery(event_id=event_id, channel=channel))
    try:
        await session.commit()
    except IntegrityError:  # another instance delivered it at the same moment
        await session.rollback()


class _ChannelNotifier:
    channel = ""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings):
        self.sessions = sessions
        self.clock = clock
        self.settings = settings

    async def deliver(self, event: Notification) -> None:
        if subject_of(EventKind(event.kind)) != Subject.TICKET and not self._takes(event):
            return  # a need's or a sign-up's id: nothing below may read a ticket
        async with self.sessions() as session:
            if await was_delivered(session, event.id, self.channel):
                return
            try:
                sent = await self._send(session, event)
            except RecipientUnreachable as exc:
                log.warning(
                    "wechat recipient unreachable: given up",
                    extra={"event": event.id, "channel": self.channel, "errcode": exc.errcode},
                )
                sent = True
            if sent:
                await mark_delivered(session, event.id, self.channel)

    async def _send(self, session: AsyncSession, event: Notification) -> bool:
        raise NotImplementedError

    def _takes(self, event: Notification) -> bool:
        """Whether this channel sends an event about something other than a ticket."""
        return False

    def _when(self) -> str:
        return self.clock.now().astimezone(self.settings.report_zone).strftime("%Y-%m-%d %H:%M")

    async def _expert_event(
        self, session: AsyncSession, event: Notification
    ) -> tuple[Expert, Ticket, str] | None:
        """The expert, the ticket and the console link of an expert event; None otherwise."""
        expert_id = expert_of(event.recipient)
        if expert_id is None or EventKind(event.kind) not in EXPERT_KINDS:
            return None
        expert = await session.get(Expert, expert_id)
        ticket = await session.get(Ticket, event.ticket_id)
        if expert is None or not expert.active or ticket is None:
            return None
        code = await issue_link_code(session, expert.id, ticket.id, self.clock.now())
        return expert, ticket, f"{self.settings.public_url}{enter_path(code)}"

    def _what(self, event: Notification, ticket: Ticket) -> str:
        if event.kind == EventKind.MESSAGE:
            return texts.WX_FOLLOWUP.format(text=event.payload.get("text") or "")
        return ticket.text

    async def _site_name(self, session: AsyncSession, ticket: Ticket) -> str:
        site = await session.get(Site, ticket.site_code) if ticket.site_code else None
        return site.name if site is not None else texts.WX_NO_SITE


class ServiceAccountNotifier(_ChannelNotifier):
    """Template or subscribe messages through the union's service account."""

    channel = "wechat"

    def __init__(
        self,
        account: ServiceAccount,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
    ):
        super().__init__(sessions, clock, settings)
        self.account = account

    async def _send(self, session: AsyncSession, event: Notification) -> bool:
        wechat = self.settings.wechat
        if event.recipient == WORKER:
            if event.kind != EventKind.ANSWERED or wechat.answer_template_id is None:
                return False
            ticket = await session.get(Ticket, event.ticket_id)
            if ticket is None or ticket.worker_openid is None or ticket.site_code is None:
                return False
            if not await wants_notifications(session, ticket.worker_openid):
                return False
            # a subscribe message needs the worker's consent, one per message (the chat page's button)
            by_consent = wechat.message_kind == "subscribe"
            if by_consent and not await subscribed(session, ticket.worker_openid):
                return False
            data = {
                "thing1": clip(ticket.text),
                "thing2": clip(event.payload.get("expert_name") or texts.WX_EXPERT_FALLBACK),
                "time3": self._when(),
            }
            url = ticket_page(self.settings.public_url, ticket.site_code, ticket.id)
            await self._message(ticket.worker_openid, wechat.answer_template_id, url, data, event.id)
            if by_consent:
                await use_subscription(session, ticket.worker_openid)
            return True
        if wechat.ticket_template_id is None or wechat.message_kind == "subscribe":
            return False  # experts give no per-message consent: they are reached by WeCom or Telegram
        if (about := await self._expert_event(session, event)) is None:
            return False
        expert, ticket, url = about
        if expert.wechat_openid is None:
            return False
        data = {
            "thing1": clip(self._what(event, ticket)),
            "thing2": clip(await self._site_name(session, ticket)),
            "time3": self._when(),
        }
        await self._message(expert.wechat_openid, wechat.ticket_template_id, url, data, event.id)
        return True

    async def _message(
        self, openid: str, template_id: str, url: str, data: dict[str, str], event_id: int
    ) -> None:
        if self.settings.wechat.message_kind == "subscribe":
            await self.account.send_subscribe(openid, template_id, url, data)
        else:
            await self.account.send_template(openid, template_id, url, data, client_msg_id=str(event_id))


class WeComNotifier(_ChannelNotifier):
    """Text cards through the union's WeCom app, to experts by WeCom user id."""

    channel = "wecom"

    def __init__(
        self, app: WeComApp, sessions: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings
    ):
        super().__init__(sessions, clock, settings)
        self.app = app

    async def _send(self, session: AsyncSession, event: Notification) -> bool:
        if event.recipient == WORKER:
            return False
        if event.recipient == ADMIN and event.kind == EventKind.NEED_FILED:
            return await self._new_need(session, event)
        if event.recipient == ADMIN:
            return await self._to_stewards(session, event)
        expert_id = expert_of(event.recipient)
        expert = await session.get(Expert, expert_id) if expert_id else None
        if expert is None or expert.wecom_userid is None:
            return False
        if (about := await self._expert_event(session, event)) is None:
            return False
        _, ticket, url = about
        description = texts.WX_CARD_BODY.format(
            time=self._when(),
            site=await self._site_name(session, ticket),
            text=clip(self._what(event, ticket), 200),
        )
        title = texts.WX_CARD_TITLE.get(str(event.kind), texts.WX_CARD_TITLE["assigned"])
        return await self._card(event, [expert.wecom_userid], title, description, url, texts.WX_CARD_BUTTON)

    def _takes(self, event: Notification) -> bool:
        return event.kind == EventKind.NEED_FILED

    async def _new_need(self, session: AsyncSession, event: Notification) -> bool:
        """A filed need reaches the stewards with a WeCom user id who look after its station or
        region, linking to /admin, where they match experts to it."""
        need = await session.get(Need, event.ticket_id)
        if need is None:
            return False
        userids = [
            steward.wecom_userid
            for steward in await self._reachable_stewards(session)
            if steward.wecom_userid and in_scope(need, steward)
        ]
        if not userids:
            return False
        p = event.payload
        description = texts.WX_NEED_CARD_BODY.format(
            time=self._when(),
            enterprise=p.get("enterprise") or "",
            urgency=texts.NEED_URGENCY.get(p.get("urgency") or "", ""),
            problem=clip(p.get("problem") or "", 200),
        )
        return await self._admin_card(event, userids, texts.WX_CARD_TITLE["need_filed"], description)

    async def _reachable_stewards(self, session: AsyncSession) -> list[Steward]:
        return list(
            (
                await session.scalars(
                    select(Steward).where(Steward.active.is_(True), Steward.wecom_userid.is_not(None))
                )
            ).all()
        )

    async def _to_stewards(self, session: AsyncSession, event: Notification) -> bool:
        """An escalated ticket (the admin queue: nobody took it) reaches the stewards with a
        WeCom user id whose stations or regions hold its site, linking to /admin."""
        ticket = await session.get(Ticket, event.ticket_id)
        if event.kind != EventKind.ESCALATED or ticket is None or ticket.site_code is None:
            return False
        userids = [
            steward.wecom_userid
            for steward in await self._reachable_stewards(session)
            if steward.wecom_userid and ticket.site_code in await scope_sites(session, steward)
        ]
        if not userids:
            return False
        description = texts.WX_CARD_BODY.format(
            time=self._when(), site=await self._site_name(session, ticket), text=clip(ticket.text, 200)
        )
        return await self._admin_card(event, userids, texts.WX_CARD_TITLE["escalated"], description)

    async def _admin_card(
        self, event: Notification, userids: list[str], title: str, description: str
    ) -> bool:
        """A card for stewards, opening /admin."""
        url = f"{self.settings.public_url}/admin"
        return await self._card(event, userids, title, description, url, texts.WX_CARD_ADMIN_BUTTON)

    async def _card(
        self, event: Notification, userids: list[str], title: str, description: str, url: str, button: str
    ) -> bool:
        """Send one text card; a user WeCom cannot reach is logged and not retried."""
        missed = await self.app.send_text_card(userids, title, description, url, button)
        if missed:
            log.warning("wecom user unreachable: given up", extra={"event": event.id, "userids": missed})
        return True
