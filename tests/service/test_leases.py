"""Leases on SQLite and PostgreSQL (the upsert is the dialect's own): one holder at a time,
renewal, failover after the ttl and not before (a fake clock), and two instances trying at the
same moment from two sessions: exactly one wins."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest

from bot.context import sweep_if_held
from bot.service.clock import FakeClock
from bot.service.leases import Lease
from bot.service.tickets import TicketService
from bot.settings import Settings
from knowledge.models import Lease as LeaseRow
from tests.factories import stored
from tests.service.conftest import Sessions
from tests.service.test_tickets import events, load, question

TTL = timedelta(seconds=90)


def lease(sessions: Sessions, holder: str, clock: FakeClock, name: str = "sweep") -> Lease:
    return Lease(sessions, name, holder, TTL, clock)


async def test_the_first_instance_takes_the_lease_and_renews_it(sessions: Sessions, clock: FakeClock):
    a, b = lease(sessions, "a", clock), lease(sessions, "b", clock)
    assert await a.acquire_or_renew() and a.epoch == 1
    assert not await b.acquire_or_renew() and not b.held
    clock.advance(seconds=60)
    assert await a.acquire_or_renew() and a.epoch == 1  # renewed, not re-taken
    clock.advance(seconds=60)  # 120 s after the first take, 60 s after the renewal
    assert not await b.acquire_or_renew()
    row = await stored(sessions, LeaseRow, "sweep")
    assert (row.holder, row.expires_at, row.epoch) == ("a", clock.now() - timedelta(seconds=60) + TTL, 1)


async def test_when_the_holder_stops_renewing_another_takes_over_after_the_ttl_not_before(
    sessions: Sessions, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    a, b = lease(sessions, "a", clock), lease(sessions, "b", clock)
    assert await a.acquire_or_renew()
    clock.advance(seconds=89)
    assert not await b.acquire_or_renew()  # a is silent, but its lease still runs
    clock.advance(seconds=1)
    with caplog.at_level(logging.INFO, logger="bot.service.leases"):
        assert await b.acquire_or_renew() and b.epoch == 2
        assert not await a.acquire_or_renew()  # a comes back: it has lost the lease
    assert not a.held
    messages = [(r.getMessage(), r.holder) for r in caplog.records]  # type: ignore[attr-defined]
    assert messages == [("lease taken over", "b"), ("lease lost to another instance", "a")]


async def test_a_released_lease_is_taken_at_once(sessions: Sessions, clock: FakeClock):
    a, b = lease(sessions, "a", clock), lease(sessions, "b", clock)
    assert await a.acquire_or_renew()
    await a.release()
    assert await b.acquire_or_renew() and b.epoch == 2
    await a.release()  # not held: nothing to do, b keeps it
    assert await b.acquire_or_renew() and not await a.acquire_or_renew()


async def test_leases_of_different_jobs_are_independent(sessions: Sessions, clock: FakeClock):
    assert await lease(sessions, "a", clock, "sweep").acquire_or_renew()
    assert await lease(sessions, "b", clock, "rebuild").acquire_or_renew()


@pytest.mark.parametrize("expired", [False, True], ids=["absent", "expired"])
async def test_two_instances_at_the_same_moment_exactly_one_wins(
    sessions: Sessions, clock: FakeClock, expired: bool
):
    """Each round two instances race for a fresh lease (no row yet, or an expired one of a
    third instance), each from its own session and connection, started together."""
    for round_ in range(15):
        name = f"job-{round_}"
        if expired:
            assert await lease(sessions, "dead", clock, name).acquire_or_renew()
            clock.advance(seconds=TTL.total_seconds())
        contenders = [lease(sessions, holder, clock, name) for holder in ("a", "b")]
        won = await asyncio.gather(*(one.acquire_or_renew() for one in contenders))
        assert sorted(won) == [False, True], f"round {round_}: {won}"
        winner = contenders[won.index(True)]
        row = await stored(sessions, LeaseRow, name)
        assert row.holder == winner.holder and row.epoch == (2 if expired else 1)


def test_each_start_has_its_own_instance_id_unless_one_is_set(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CRAFTDESK_INSTANCE_ID", raising=False)
    assert Settings().instance_id != Settings().instance_id
    monkeypatch.setenv("CRAFTDESK_INSTANCE_ID", "app-2")
    assert Settings().instance_id == "app-2"


async def test_the_silence_sweep_moves_a_silent_ticket_on_one_instance_only(
    kb: Sessions, service: TicketService, clock: FakeClock
):
    """Two instances sweep every 30 s tick (``bot.context.sweep_if_held``): a silent ticket is
    moved once, by the lease's holder; when the holder dies, the other takes the sweep over
    after the lease's ttl (three ticks) and moves the next silent ticket."""
    qid = await question(kb, ["E01", "E02", "C01"])
    async with kb() as session:
        tid = (await service.open_for_question(session, qid)).ticket.id
    a, b = (SimpleNamespace(sessions=kb, tickets=service, sweep_lease=lease(kb, n, clock)) for n in "ab")
    moved = {"a": 0, "b": 0}
    for _ in range(60):  # 30 minutes: E01 stays silent
        clock.advance(seconds=30)
        moved["a"] += await sweep_if_held(a)  # type: ignore[arg-type]
        moved["b"] += await sweep_if_held(b)  # type: ignore[arg-type]
    assert moved == {"a": 1, "b": 0} and (await load(kb, tid)).expert_id == "E02"

    ticks_to_take_over = None
    for tick in range(1, 61):  # a has died; another 30 minutes: E02 stays silent
        clock.advance(seconds=30)
        moved["b"] += await sweep_if_held(b)  # type: ignore[arg-type]
        if ticks_to_take_over is None and b.sweep_lease.held:
            ticks_to_take_over = tick
    assert ticks_to_take_over == 3 and moved == {"a": 1, "b": 1}
    assert [kind for kind, _ in await events(kb, tid)].count("reassigned") == 2
