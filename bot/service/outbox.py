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
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, or_, select, update
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
    """Queue a notification in the caller's transaction (committed with the change)."""
    session.add(
        OutboxEvent(
            kind=kind,
            ticket_id=ticket.id,
            recipient=recipient,
            payload={"channel": ticket.channel, "chat_id": ticket.worker_chat_id, **payload},
            created_at=at,
            attempts=0,
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
    ):
        self.sessions = sessions
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
        """Deliver what is due (one batch); returns how many were marked delivered. The
        batch's outcomes are stored in one commit: a crash before it sends the batch again,
        which the adapters drop as duplicates by event id."""
        now = self.clock.now()
        if self.paused_until is not None and now < self.paused_until:
            return 0
        due = or_(OutboxEvent.next_attempt_at.is_(None), OutboxEvent.next_attempt_at <= now)
        async with self.sessions() as session:
            events = (
                await session.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.delivered_at.is_(None), OutboxEvent.dead_at.is_(None), due)
                    .order_by(OutboxEvent.id)
                    .limit(self.batch)
                )
            ).all()
            delivered = 0
            for event in events:
                note = Notification(event.id, event.kind, event.ticket_id, event.recipient, event.payload)
                try:
                    for notifier in self.notifiers:
                        await notifier.deliver(note)
                except DeliveryDeferred as wait:
                    self._defer(event, wait)
                    break  # flood control is per bot: the rest of the batch would be refused too
                except Exception as exc:  # an adapter failed: keep the event, try again later
                    self._failed(event, exc)
                else:
                    event.delivered_at = self.clock.now()
                    delivered += 1
            async with self.gate.writing(session):
                await session.commit()
            return delivered

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
