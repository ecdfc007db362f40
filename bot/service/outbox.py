"""The notification outbox: events are written with the change that causes them (same
transaction) and delivered afterwards by the channel adapters, so a crash between the change
and the delivery loses nothing. Delivery is at least once; adapters drop duplicates by id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge.models import OutboxEvent, Ticket

log = logging.getLogger(__name__)


def emit(session: AsyncSession, kind: str, ticket: Ticket, recipient: str, **payload: Any) -> None:
    """Queue a notification in the caller's transaction (committed with the change)."""
    session.add(OutboxEvent(
        kind=kind, ticket_id=ticket.id, recipient=recipient,
        payload={"channel": ticket.channel, "chat_id": ticket.worker_chat_id, **payload},
        created_at=datetime.now(timezone.utc), attempts=0,
    ))


@dataclass(frozen=True)
class Notification:
    id: int
    kind: str
    ticket_id: str
    recipient: str
    payload: dict[str, Any]


class Notifier(Protocol):
    """A channel adapter (Telegram, ...). Returns normally when the event is handled or not
    for this channel; raises to have it retried later."""

    async def deliver(self, event: Notification) -> None: ...


class OutboxDispatcher:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], notifiers: Sequence[Notifier],
                 batch: int = 50, max_attempts: int = 20):
        self.sessions = sessions
        self.notifiers = list(notifiers)
        self.batch = batch
        self.max_attempts = max_attempts

    async def deliver_pending(self) -> int:
        """Deliver what is waiting, oldest first; returns how many were marked delivered."""
        async with self.sessions() as session:
            events = (await session.scalars(
                select(OutboxEvent).where(OutboxEvent.delivered_at.is_(None),
                                          OutboxEvent.attempts < self.max_attempts)
                .order_by(OutboxEvent.id).limit(self.batch))).all()
            delivered = 0
            for event in events:
                note = Notification(event.id, event.kind, event.ticket_id, event.recipient, event.payload)
                try:
                    for notifier in self.notifiers:
                        await notifier.deliver(note)
                except Exception:  # an adapter failed: keep the event, try again later
                    event.attempts += 1
                    log.warning("notification not delivered", exc_info=True,
                                extra={"event": event.id, "kind": event.kind, "attempts": event.attempts})
                else:
                    event.delivered_at = datetime.now(timezone.utc)
                    delivered += 1
                await session.commit()
            return delivered

    async def run(self, interval: float = 1.0) -> None:
        while True:
            try:
                await self.deliver_pending()
            except Exception:
                log.exception("outbox dispatch failed")
            await asyncio.sleep(interval)
