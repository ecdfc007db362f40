"""Outbox claims on SQLite and PostgreSQL (``FOR UPDATE SKIP LOCKED`` there): two dispatchers
(two instances) working the same table never send one event twice, a crashed instance's claims
lapse and its rows go out from another, and a crash between a send and its record repeats at
most that one event."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.service.clock import FakeClock
from bot.service.outbox import Notification, OutboxDispatcher
from knowledge.models import OutboxEvent
from tests.service.conftest import Sessions
from tests.service.test_outbox import add_events, row


class Crash(BaseException):
    """The process dies (not an error the dispatcher would catch and retry)."""


class Channel:
    """Counts the sends of each event; yields to the other dispatcher between sends; can die
    right after sending the event ``crash_after``."""

    def __init__(self, sent: Counter[int], crash_after: int | None = None):
        self.sent = sent
        self.crash_after = crash_after

    async def deliver(self, event: Notification) -> None:
        await asyncio.sleep(0)
        self.sent[event.id] += 1
        if event.id == self.crash_after:
            raise Crash


async def pending(sessions: Sessions) -> int:
    async with sessions() as session:
        rows = await session.scalars(select(OutboxEvent.id).where(OutboxEvent.delivered_at.is_(None)))
        return len(rows.all())


async def test_two_dispatchers_never_send_the_same_event(sessions: Sessions, clock: FakeClock):
    ids = await add_events(sessions, clock, 40)
    sent: Counter[int] = Counter()
    a, b = (
        OutboxDispatcher(sessions, [Channel(sent)], batch=5, clock=clock, holder=name) for name in ("a", "b")
    )
    for _ in range(20):
        delivered = await asyncio.gather(a.deliver_pending(), b.deliver_pending())
        if not await pending(sessions):
            break
        assert sum(delivered) > 0, "a pass with work left delivered nothing"
    assert sent == Counter({eid: 1 for eid in ids})
    async with sessions() as session:
        holders = Counter((await session.scalars(select(OutboxEvent.claimed_by))).all())
        open_claims = (await session.scalars(select(OutboxEvent.claimed_until))).all()
    assert set(holders) == {"a", "b"}, "both instances took a share"
    assert set(open_claims) == {None}, "claims are let go once the rows are done"


async def test_a_crashed_instances_rows_go_out_from_another_after_its_claim_lapses(
    sessions: Sessions, clock: FakeClock
):
    ids = await add_events(sessions, clock, 5)
    sent: Counter[int] = Counter()
    crashed = OutboxDispatcher(
        sessions, [Channel(sent, crash_after=ids[2])], clock=clock, holder="a", claim_seconds=120
    )
    with pytest.raises(Crash):
        await crashed.deliver_pending()
    assert sent == Counter(ids[:3])  # the third was sent, then the process died before recording it
    assert [(await row(sessions, eid)).delivered_at is not None for eid in ids] == [True, True] + [False] * 3

    survivor = OutboxDispatcher(sessions, [Channel(sent)], clock=clock, holder="b")
    clock.advance(seconds=119)
    assert await survivor.deliver_pending() == 0  # still a's: not sent twice while a may live
    clock.advance(seconds=1)
    assert await survivor.deliver_pending() == 3
    duplicates = [eid for eid, times in sent.items() if times > 1]
    assert duplicates == [ids[2]] and sent[ids[2]] == 2  # the one in flight, once more; no other
    assert (await row(sessions, ids[4])).claimed_by == "b"
    assert await pending(sessions) == 0


async def test_a_row_retried_later_is_claimable_by_any_instance(sessions: Sessions, clock: FakeClock):
    [eid] = await add_events(sessions, clock)

    class Down:
        async def deliver(self, event: Notification) -> None:
            raise ConnectionError("channel down")

    assert (
        await OutboxDispatcher(sessions, [Down()], clock=clock, holder="a", jitter=0).deliver_pending() == 0
    )
    failed = await row(sessions, eid)
    assert failed.claimed_until is None and failed.next_attempt_at == clock.now() + timedelta(seconds=2)
    sent: Counter[int] = Counter()
    other = OutboxDispatcher(sessions, [Channel(sent)], clock=clock, holder="b")
    assert await other.deliver_pending() == 0  # not yet due
    clock.advance(seconds=2)
    assert await other.deliver_pending() == 1 and sent == Counter([eid])
