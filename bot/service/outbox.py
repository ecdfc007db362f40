"""The notification outbox: events are written with the change that causes them (same
transaction) and delivered afterwards by the channel adapters, so a crash between the change
and the delivery loses nothing. Delivery is at least once; adapters drop duplicates by id.

Retries. A failed delivery is tried again after 2, 4, 8 ... seconds, doubling up to an hour,
plus up to 10 % jitter so rows that failed together do not retry together. After
``max_attempts`` failures (default 35: about a day after the first) the row is dead-lettered
(``dead_at``) with its last error, logged, and left for an admin to retry; nothing is dropped
silently. A channel asking to wait (``DeliveryDeferred``: Telegram's flood control) is obeyed:
the row waits that long and the dispatcher sends nothing until then. ``attempts`` counts
failures only, so a deferral neither lengthens the back-off nor brings dead-lettering nearer:
it is the channel working as designed, and it says when to come back.

Several instances. Rows are claimed before they are sent: one statement marks a batch of due,
unclaimed rows ``claimed_by`` this instance ``claimed_until`` a while ahead and commits, then the
rows are sent. On PostgreSQL the batch is picked with ``FOR UPDATE SKIP LOCKED``, so a second
dispatcher claims other rows instead of waiting; on SQLite (one writer) the conditional UPDATE
alone does it. A claim lapses: the rows of an instance that died mid-batch are sent by another
after ``claimed_until``. Each row's outcome is committed right after its send, so a crash between
a send and its record repeats that one event, which the adapters drop as a duplicate by id
(Telegram: ``telegram_deliveries``, shared by every instance). With no adapter at all (a web-only
deployment) nothing is sent, and a batch is marked delivered in one commit.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, CursorResult, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.clock import Clock, SystemClock
from bot.service.secrets import mask_bot_tokens
from knowledge.db import WriteGate
from knowledge.errors import ConflictError, NotFoundError
from knowledge.models import OutboxEvent, Ticket
from knowledge.states import EventKind

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 500  # OutboxEvent.last_error is String(500)


WORKER, ADMIN = "worker", "admin"  # recipients besides one expert (``to_expert``)
_EXPERT_PREFIX = "expert:"


def to_expert(expert_id: str) -> str:
    """The recipient that names one expert."""
    return f"{_EXPERT_PREFIX}{expert_id}"


def expert_of(recipient: str) -> str | None:
    """The expert a recipient names; None for the worker or the admins."""
    return recipient.removeprefix(_EXPERT_PREFIX) if recipient.startswith(_EXPERT_PREFIX) else None


def emit(
    session: AsyncSession, kind: EventKind, ticket: Ticket, recipient: str, at: datetime, **payload: Any
) -> None:
    """Queue a notification about a ticket in the caller's transaction (committed with the
    change); the payload says the worker's channel and chat."""
    emit_about(
        session,
        kind,
        ticket.id,
        recipient,
        at,
        channel=ticket.channel,
        chat_id=ticket.worker_chat_id,
        **payload,
    )


def emit_about(
    session: AsyncSession, kind: EventKind, subject_id: str, recipient: str, at: datetime, **payload: Any
) -> None:
    """Queue a notification about ``subject_id`` (a ticket, a need or a class sign-up, as
    ``knowledge.states.subject_of(kind)`` says) in the caller's transaction."""
    session.add(
        OutboxEvent(
            kind=kind, ticket_id=subject_id, recipient=recipient, payload=payload, created_at=at, attempts=0
        )
    )


@dataclass(frozen=True)
class Notification:
    id: int
    kind: EventKind
    ticket_id: str
    recipient: str
    payload: dict[str, Any]


class DeliveryDeferred(Exception):
    """Raised by a notifier when its channel asks to be left alone for ``seconds``."""

    def __init__(self, seconds: float):
        self.seconds = max(0.0, float(seconds))
        super().__init__(f"the channel asked to retry after {self.seconds:g} s")


class Notifier(Protocol):
    """A channel adapter (Telegram, ...). Returns normally when the event is handled or not
    for this channel; raises ``DeliveryDeferred`` to be called again after a wait, anything
    else to have it retried with back-off."""

    async def deliver(self, event: Notification) -> None: ...


def describe_error(exc: BaseException) -> str:
    """``Type: message`` for ``last_error``: bot tokens masked (error texts can hold the API
    URL), cut to the column's size."""
    text = mask_bot_tokens(f"{type(exc).__name__}: {exc}")
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


class OutboxDispatcher:
    """Delivers due rows oldest first, one pass per ``run`` tick (see the module docstring).

    The waits after failure n are min(2**n s, ``max_delay``) plus up to ``jitter`` of that; with
    the defaults the 35th failure, about 24 h after the first, dead-letters the row."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        notifiers: Sequence[Notifier],
        batch: int = 50,
        max_attempts: int = 35,
        clock: Clock | None = None,
        max_delay: float = 3600.0,
        jitter: float = 0.1,
        gate: WriteGate | None = None,
        holder: str | None = None,
        claim_seconds: float = 300.0,
    ):
        """``holder``: this instance's id in ``claimed_by`` (CRAFTDESK_INSTANCE_ID); a claim
        lasts ``claim_seconds``, longer than a batch takes to send."""
        self.sessions = sessions
        self.holder = holder or f"dispatcher-{secrets.token_hex(4)}"
        self.claim = timedelta(seconds=claim_seconds)
        self.gate = gate or WriteGate(None)
        self.notifiers = list(notifiers)
        self.batch = batch
        self.max_attempts = max_attempts
        self.clock = clock or SystemClock()
        self.max_delay = max_delay
        self.jitter = jitter
        self.paused_until: datetime | None = None  # a channel's flood control, in memory

    def delay(self, failures: int) -> timedelta:
        """The wait after the ``failures``-th failure."""
        seconds = min(2.0 ** min(failures, 60), self.max_delay)
        return timedelta(seconds=seconds * (1 + self.jitter * random.random()))

    async def deliver_pending(self) -> int:
        """Claim what is due (one batch) and deliver it; returns how many were marked
        delivered. Each outcome is committed after its send (see the module docstring)."""
        now = self.clock.now()
        if self.paused_until is not None and now < self.paused_until:
            return 0
        async with self.sessions() as session:
            claimed = await self._claim(session, now)
            if not claimed:
                return 0
            events = (
                await session.scalars(
                    select(OutboxEvent).where(OutboxEvent.id.in_(claimed)).order_by(OutboxEvent.id)
                )
            ).all()
            if not self.notifiers:  # nothing is sent (no channel adapter): one commit records the batch
                for event in events:
                    event.delivered_at, event.claimed_until = self.clock.now(), None
                await self._record(session)
                return len(events)
            delivered = 0
            for n, event in enumerate(events):
                note = Notification(event.id, event.kind, event.ticket_id, event.recipient, event.payload)
                try:
                    for notifier in self.notifiers:
                        await notifier.deliver(note)
                except DeliveryDeferred as wait:
                    self._defer(event, wait)
                    for unsent in events[n:]:  # flood control is per bot: the rest would be refused too
                        unsent.claimed_until = None
                    await self._record(session)
                    break
                except Exception as exc:  # an adapter failed: keep the event, try again later
                    self._failed(event, exc)
                else:
                    event.delivered_at = self.clock.now()
                    delivered += 1
                event.claimed_until = None
                await self._record(session)
            return delivered

    def _claimable(self, now: datetime) -> ColumnElement[bool]:
        due = or_(OutboxEvent.next_attempt_at.is_(None), OutboxEvent.next_attempt_at <= now)
        free = or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until <= now)
        return OutboxEvent.delivered_at.is_(None) & OutboxEvent.dead_at.is_(None) & due & free

    async def _claim(self, session: AsyncSession, now: datetime) -> list[int]:
        """Mark a batch of due, unclaimed rows as this instance's and commit; their ids.
        The batch is read ``FOR UPDATE SKIP LOCKED`` on PostgreSQL: rows another dispatcher is
        claiming are passed over, and ours stay locked until the commit. SQLite has no row
        locks (and leaves the clause out) but one writer: the UPDATE's own condition keeps
        rows another instance claimed after our read."""
        async with self.gate.writing(session):
            batch = (
                await session.scalars(
                    select(OutboxEvent.id)
                    .where(self._claimable(now))
                    .order_by(OutboxEvent.id)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not batch:
                await session.commit()
                return []
            claimed = (
                await session.scalars(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_(batch), self._claimable(now))
                    .values(claimed_by=self.holder, claimed_until=now + self.claim)
                    .returning(OutboxEvent.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
            await session.commit()
        return list(claimed)

    async def _record(self, session: AsyncSession) -> None:
        async with self.gate.writing(session):
            await session.commit()

    def _defer(self, event: OutboxEvent, wait: DeliveryDeferred) -> None:
        event.next_attempt_at = self.clock.now() + timedelta(seconds=wait.seconds)
        event.last_error = describe_error(wait)
        self.paused_until = event.next_attempt_at
        log.info(
            "notification deferred by the channel",
            extra={"event": event.id, "kind": event.kind, "seconds": wait.seconds},
        )

    def _failed(self, event: OutboxEvent, exc: Exception) -> None:
        now = self.clock.now()
        event.attempts += 1
        event.last_error = describe_error(exc)
        facts = {
            "event": event.id,
            "kind": event.kind,
            "ticket": event.ticket_id,
            "attempts": event.attempts,
            "error": event.last_error,
        }
        if event.attempts >= self.max_attempts:
            event.dead_at = now
            log.warning("notification dead-lettered: an admin can retry it", extra=facts)
            return
        event.next_attempt_at = now + self.delay(event.attempts)
        log.warning(
            "notification not delivered, will retry",
            exc_info=True,
            extra=facts | {"retry_at": event.next_attempt_at.isoformat()},
        )

    async def run(self, interval: float = 1.0) -> None:
        """A pass every ``interval``; right away again while passes deliver full batches (a
        backlog after a rush or an outage drains at the channel's pace, not 50 a second)."""
        while True:
            delivered = 0
            try:
                delivered = await self.deliver_pending()
            except Exception:
                log.exception("outbox dispatch failed")
            await asyncio.sleep(0 if delivered >= self.batch else interval)


# ---- dead letters, for the admins ----------------------------------------------------------

_DEAD = (OutboxEvent.dead_at.is_not(None), OutboxEvent.delivered_at.is_(None))
_REVIVED = {"dead_at": None, "attempts": 0, "next_attempt_at": None}


async def dead_letters(session: AsyncSession, limit: int = 500) -> Sequence[OutboxEvent]:
    """Dead-lettered events, oldest first."""
    return (
        await session.scalars(select(OutboxEvent).where(*_DEAD).order_by(OutboxEvent.id).limit(limit))
    ).all()


async def retry_dead(session: AsyncSession, event_id: int) -> OutboxEvent:
    """Put one dead letter back in the queue, as if new (``last_error`` kept as a trace)."""
    event = await session.get(OutboxEvent, event_id)
    if event is None:
        raise NotFoundError(f"no outbox event {event_id}")
    if event.dead_at is None or event.delivered_at is not None:
        state = "delivered" if event.delivered_at is not None else "still pending"
        raise ConflictError(f"outbox event {event_id} is not a dead letter: it is {state}")
    for name, value in _REVIVED.items():
        setattr(event, name, value)
    await session.commit()
    return event


async def retry_all_dead(session: AsyncSession) -> int:
    """Put every dead letter back in the queue; returns how many."""
    # an UPDATE gives a CursorResult (AsyncSession.execute is typed with the plain Result)
    result = cast(
        "CursorResult[Any]",
        await session.execute(
            update(OutboxEvent).where(*_DEAD).values(**_REVIVED).execution_options(synchronize_session=False)
        ),
    )
    await session.commit()
    return result.rowcount or 0
