"""Workers known by their WeChat openid: the signed values that carry it (the OAuth ``state``
and the ``craftdesk_wx`` cookie), the workers' rows (first seen, notifications on or off) and
their tickets, so the history follows an openid to another phone.

The signing key is derived from a server secret (the admin token, as the door codes do), so
every instance of a deployment checks what another signed. A value is HMAC-SHA-256 over its
kind, its expiry and its content; a changed byte, another kind or a passed expiry is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.tickets import worker_stage
from knowledge.models import Ticket, WeChatWorker
from knowledge.states import TicketStatus, WorkerStage

STATE_SECONDS = 10 * 60  # an OAuth round trip takes seconds; a stale state is refused
COOKIE_SECONDS = 30 * 24 * 3600
COOKIE_NAME = "craftdesk_wx"
MY_TICKETS = 50  # the newest tickets a worker sees in 我的提问
_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STATE = re.compile(r"([a-z])(\d{10})([0-9a-f]{32})([0-9a-f]{2,80})")


def wechat_asker(openid: str) -> str:
    """``Question.asker`` of a worker identified by openid: one worker on every phone."""
    return hashlib.sha256(f"wechat:{openid}".encode()).hexdigest()


def valid_openid(openid: str) -> bool:
    return bool(_OPENID.fullmatch(openid))


class Signer:
    """Signs and checks the OAuth state and the worker cookie (see the module docstring)."""

    def __init__(self, secret: str):
        self._key = hmac.new(secret.encode("utf-8"), b"craftdesk wechat identity", hashlib.sha256).digest()

    def _mac(self, *parts: str) -> str:
        return hmac.new(self._key, "|".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()

    def state(self, kind: str, value: str, now: datetime) -> str:
        """An OAuth ``state`` (letters and digits only, as WeChat carries it) naming ``value``
        (a site code, a ticket id, a bind code; at most 40 bytes) for ``kind`` (one letter)."""
        encoded = value.encode("utf-8").hex()
        if not re.fullmatch(r"[a-z]", kind) or not 0 < len(encoded) <= 80:
            raise ValueError("a state is one letter of kind and 1-40 bytes of value")
        expires = f"{int(now.timestamp()) + STATE_SECONDS:010d}"
        return f"{kind}{expires}{self._mac('state', kind, expires, encoded)[:32]}{encoded}"

    def read_state(self, state: str, now: datetime) -> tuple[str, str] | None:
        """``(kind, value)`` of a state this server signed and that has not expired; else None."""
        match = _STATE.fullmatch(state or "")
        if match is None:
            return None
        kind, expires, mac, encoded = match.groups()
        if not hmac.compare_digest(mac, self._mac("state", kind, expires, encoded)[:32]):
            return None
        if int(expires) < now.timestamp() or len(encoded) % 2:
            return None
        try:
            return kind, bytes.fromhex(encoded).decode("utf-8")
        except ValueError:
            return None

    def cookie(self, openid: str, now: datetime) -> str:
        """The worker cookie's value: the openid, its expiry, their MAC."""
        expires = f"{int(now.timestamp()) + COOKIE_SECONDS}"
        return f"{openid}.{expires}.{self._mac('cookie', openid, expires)}"

    def openid(self, cookie: str | None, now: datetime) -> str | None:
        """The openid of a cookie this server signed and that has not expired; else None."""
        openid, _, rest = (cookie or "").partition(".")
        expires, _, mac = rest.partition(".")
        if not valid_openid(openid) or not expires.isdigit() or int(expires) < now.timestamp():
            return None
        return openid if hmac.compare_digest(mac, self._mac("cookie", openid, expires)) else None


async def remember_worker(session: AsyncSession, openid: str, now: datetime) -> WeChatWorker:
    """The worker's row, added on first sight (notifications on), committed."""
    worker = await session.get(WeChatWorker, openid)
    if worker is None:
        worker = WeChatWorker(openid=openid, first_seen=now, notify=True)
        session.add(worker)
        await session.commit()
    return worker


async def set_notify(session: AsyncSession, openid: str, notify: bool, now: datetime) -> WeChatWorker:
    """Turn the worker's notifications on or off (off: ``stopped_at`` says since when)."""
    worker = await session.get(WeChatWorker, openid)
    if worker is None:
        worker = WeChatWorker(openid=openid, first_seen=now)
        session.add(worker)
    worker.notify, worker.stopped_at = notify, None if notify else now
    await session.commit()
    return worker


async def record_subscription(session: AsyncSession, openid: str, now: datetime) -> WeChatWorker:
    """The worker accepted a subscribe message (WeChat's 一次性订阅: one message per consent)."""
    worker = await session.get(WeChatWorker, openid)
    if worker is None:
        worker = WeChatWorker(openid=openid, first_seen=now, notify=True)
        session.add(worker)
    worker.subscribed_at, worker.notify, worker.stopped_at = now, True, None
    await session.commit()
    return worker


async def subscribed(session: AsyncSession, openid: str) -> bool:
    """Whether the worker consented to a subscribe message not sent yet."""
    worker = await session.get(WeChatWorker, openid)
    return worker is not None and worker.subscribed_at is not None and worker.notify


async def use_subscription(session: AsyncSession, openid: str) -> None:
    """The consent was used by a message sent: the next one needs another."""
    worker = await session.get(WeChatWorker, openid)
    if worker is not None:
        worker.subscribed_at = None
        await session.commit()


async def wants_notifications(session: AsyncSession, openid: str) -> bool:
    """False once the worker turned them off; a worker never seen gets them (they asked in WeChat)."""
    worker = await session.get(WeChatWorker, openid)
    return worker is None or worker.notify


@dataclass(frozen=True)
class WorkerTicket:
    ticket_id: str
    question_id: str | None
    question: str
    status: TicketStatus
    stage: WorkerStage
    site_code: str | None
    created_at: datetime
    updated_at: datetime


async def worker_tickets(
    session: AsyncSession, openid: str, limit: int = MY_TICKETS
) -> Sequence[WorkerTicket]:
    """The worker's tickets, newest first."""
    rows = (
        await session.scalars(
            select(Ticket)
            .where(Ticket.worker_openid == openid)
            .order_by(Ticket.created_at.desc(), Ticket.id)
            .limit(limit)
        )
    ).all()
    return [
        WorkerTicket(
            ticket_id=t.id,
            question_id=t.question_id,
            question=t.text,
            status=t.status,
            stage=worker_stage(t),
            site_code=t.site_code,
            created_at=t.created_at,
            updated_at=max(
                d for d in (t.created_at, t.assigned_at, t.answered_at, t.closed_at) if d is not None
            ),
        )
        for t in rows
    ]


def cookie_lifetime() -> timedelta:
    return timedelta(seconds=COOKIE_SECONDS)
