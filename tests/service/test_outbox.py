"""The outbox's retries on a real database (SQLite and PostgreSQL) with a fake clock: back-off,
a channel's "retry after", dead letters and the admins' retry, and the stats figures."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.clock import FakeClock
from bot.service.outbox import (
    DeliveryDeferred,
    Notification,
    OutboxDispatcher,
    dead_letters,
    retry_all_dead,
    retry_dead,
)
from bot.service.stats import compute_stats
from knowledge.errors import ConflictError, NotFoundError
from knowledge.models import OutboxEvent
from tests.factories import stored

Sessions = async_sessionmaker[AsyncSession]
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"
SECRET = TOKEN.split(":")[1]


class Channel:
    """A fake channel: records each call with the fake time, and fails while told to."""

    def __init__(self, clock: FakeClock, fail: list[Exception] | None = None):
        self.clock = clock
        self.fail = list(fail or [])  # raised in turn, one per call, then delivered
        self.always: Exception | None = None
        self.calls: list[tuple[int, datetime]] = []

    async def deliver(self, event: Notification) -> None:
        self.calls.append((event.id, self.clock.now()))
        if self.always is not None:
            raise self.always
        if self.fail:
            raise self.fail.pop(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def add_events(sessions: Sessions, clock: FakeClock, n: int = 1, **fields: object) -> list[int]:
    async with sessions() as session:
        rows = [
            OutboxEvent(
                **{
                    "kind": "answered",
                    "ticket_id": f"T{i}",
                    "recipient": "worker",
                    "payload": {},
                    "created_at": clock.now(),
                    "attempts": 0,
                }
                | fields
            )
            for i in range(n)
        ]
        session.add_all(rows)
        await session.commit()
        return [row.id for row in rows]


async def row(sessions: Sessions, event_id: int) -> OutboxEvent:
    return await stored(sessions, OutboxEvent, event_id)


async def test_failures_back_off_exponentially(sessions: Sessions, clock: FakeClock):
    [eid] = await add_events(sessions, clock)
    channel = Channel(clock)
    channel.always = ConnectionError("channel down")
    outbox = OutboxDispatcher(sessions, [channel], clock=clock, jitter=0)
    start = clock.now()
    for _ in range(200):  # a pass a second, as ``run`` does
        await outbox.deliver_pending()
        clock.advance(seconds=1)
    waits = [(b - a).total_seconds() for (_, a), (_, b) in pairwise(channel.calls)]
    assert channel.calls[0][1] == start
    assert waits == [2, 4, 8, 16, 32, 64]  # never tried before it was due
    event = await row(sessions, eid)
    assert event.attempts == 7 and event.delivered_at is None and event.dead_at is None
    assert event.next_attempt_at == channel.calls[-1][1] + timedelta(seconds=128)
    assert event.last_error == "ConnectionError: channel down"


async def test_jitter_and_the_cap(sessions: Sessions, clock: FakeClock):
    outbox = OutboxDispatcher(sessions, [], clock=clock)
    for failures in (1, 5, 11, 12, 40, 10_000):
        base = min(2 ** min(failures, 20), 3600)
        assert all(base <= outbox.delay(failures).total_seconds() <= base * 1.1 for _ in range(50))
    # the default limit gives up about a day after the first failure, as the docstring says
    exact = OutboxDispatcher(sessions, [], clock=clock, jitter=0)
    horizon = sum(exact.delay(n).total_seconds() for n in range(1, exact.max_attempts))
    assert 23 * 3600 <= horizon <= 25 * 3600


async def test_a_deferral_is_waited_out_and_holds_the_batch(sessions: Sessions, clock: FakeClock):
    first, second = await add_events(sessions, clock, 2)
    channel = Channel(clock, fail=[DeliveryDeferred(30)])
    outbox = OutboxDispatcher(sessions, [channel], clock=clock)
    assert await outbox.deliver_pending() == 0
    assert [eid for eid, _ in channel.calls] == [first]  # the rest of the batch was not sent
    deferred = await row(sessions, first)
    assert deferred.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert deferred.attempts == 0 and deferred.last_error and "30" in deferred.last_error
    for _ in range(29):
        clock.advance(seconds=1)
        assert await outbox.deliver_pending() == 0
    assert len(channel.calls) == 1  # nothing sent to the channel while it asked to wait
    clock.advance(seconds=1)
    assert await outbox.deliver_pending() == 2
    assert [eid for eid, _ in channel.calls] == [first, first, second]
    assert (await row(sessions, first)).delivered_at == clock.now()


async def test_new_and_old_rows_go_oldest_first(sessions: Sessions, clock: FakeClock):
    later = await add_events(sessions, clock, 2)
    earlier_due = await add_events(sessions, clock, 1, next_attempt_at=clock.now() - timedelta(minutes=5))
    not_due = await add_events(sessions, clock, 1, next_attempt_at=clock.now() + timedelta(minutes=5))
    channel = Channel(clock)
    assert await OutboxDispatcher(sessions, [channel], clock=clock).deliver_pending() == 3
    assert [eid for eid, _ in channel.calls] == later + earlier_due
    assert (await row(sessions, not_due[0])).delivered_at is None


async def test_dead_letter_after_the_limit_and_the_admins_retry(
    sessions: Sessions, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    [eid] = await add_events(sessions, clock)
    channel = Channel(clock)
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    channel.always = ConnectionError(f"Cannot connect to {url} {TOKEN} " + "x" * 600)
    outbox = OutboxDispatcher(sessions, [channel], clock=clock, max_attempts=3)
    with caplog.at_level(logging.WARNING, logger="bot.service.outbox"):
        for _ in range(6):
            await outbox.deliver_pending()
            clock.advance(hours=2)
    assert len(channel.calls) == 3  # dead: no longer tried
    dead = await row(sessions, eid)
    assert dead.dead_at is not None and dead.attempts == 3 and dead.delivered_at is None
    masked = "ConnectionError: Cannot connect to https://api.telegram.org/bot<token>/sendMessage <token> x"
    assert dead.last_error.startswith(masked)
    assert SECRET not in dead.last_error and "<token>" in dead.last_error and len(dead.last_error) == 500
    [record] = [r for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert (record.event, record.kind, record.ticket, record.attempts) == (eid, "answered", "T0", 3)

    async with sessions() as session:
        assert [e.id for e in await dead_letters(session)] == [eid]
        with pytest.raises(NotFoundError):
            await retry_dead(session, eid + 1000)
        await retry_dead(session, eid)
        with pytest.raises(ConflictError, match="still pending"):
            await retry_dead(session, eid)
    revived = await row(sessions, eid)
    assert (revived.dead_at, revived.attempts, revived.next_attempt_at) == (None, 0, None)
    channel.always = None
    assert await outbox.deliver_pending() == 1
    async with sessions() as session:
        with pytest.raises(ConflictError, match="delivered"):
            await retry_dead(session, eid)


async def test_retry_all_and_the_stats_figures(sessions: Sessions, clock: FakeClock):
    dead = await add_events(sessions, clock, 2, dead_at=clock.now(), attempts=35)
    await add_events(sessions, clock, 1, delivered_at=clock.now())
    await add_events(sessions, clock, 3, next_attempt_at=clock.now() + timedelta(hours=1))
    async with sessions() as session:
        assert (await compute_stats(session))["outbox"] == {"pending": 3, "dead": 2, "delivered": 1}
        assert await retry_all_dead(session) == 2
        assert await dead_letters(session) == []
        assert (await compute_stats(session))["outbox"] == {"pending": 5, "dead": 0, "delivered": 1}
    channel = Channel(clock)
    assert await OutboxDispatcher(sessions, [channel], clock=clock).deliver_pending() == 2
    assert [eid for eid, _ in channel.calls] == dead
