"""Races between ticket transitions, on SQLite and PostgreSQL.

Each test lets one transition read the ticket, then makes a second one land from another
session at the moment the first writes (its ``before_flush``), and checks that the first
neither overwrites the second nor is lost: every transition is conditional on what it read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import await_only

from bot.service.clock import FakeClock
from bot.service.tickets import TicketService
from knowledge.errors import AccessDeniedError
from knowledge.models import Ticket, TicketMessage
from tests.service.conftest import Sessions
from tests.service.test_tickets import events, load, question


def interleave(session: AsyncSession, other: Callable[[], Awaitable[object]]) -> list[bool]:
    """Run ``other`` (a whole transition in its own session) when ``session`` first flushes
    changes: the moment between its read and its write. Returns a flag list: [True] once run."""
    ran: list[bool] = []

    def before_flush(*_: object) -> None:
        if not ran:
            ran.append(True)
            await_only(other())

    event.listen(session.sync_session, "before_flush", before_flush)
    return ran


async def test_sweep_does_not_overwrite_a_claim_that_lands_meanwhile(
    kb: Sessions, service: TicketService, clock: FakeClock
):
    tid = await opened(kb, service, ["E01", "E02"])
    clock.advance(minutes=31)  # E01 stayed silent past the limit...

    async def e01_claims() -> None:  # ...but claims just as the sweep moves the ticket
        async with kb() as other:
            await service.claim(other, tid, "E01")

    async with kb() as session:
        ran = interleave(session, e01_claims)
        moved = await service.reassign_silent(session)
    ticket = await load(kb, tid)
    assert ran and moved == 0
    assert (ticket.expert_id, ticket.status, ticket.passed_over) == ("E01", "assigned", [])
    assert ticket.claimed_at is not None
    assert await events(kb, tid) == [("assigned", "expert:E01")]


async def test_sweep_does_not_overwrite_an_answer_that_lands_meanwhile(
    kb: Sessions, service: TicketService, clock: FakeClock
):
    tid = await opened(kb, service, ["E01", "E02"])
    async with kb() as session:
        await service.claim(session, tid, "E01")
    clock.advance(hours=5)  # past the answer timeout

    async def e01_answers() -> None:
        async with kb() as other:
            await service.answer(other, tid, "E01", "更换液压缸密封件")

    async with kb() as session:
        ran = interleave(session, e01_answers)
        moved = await service.reassign_silent(session)
    ticket = await load(kb, tid)
    assert ran and moved == 0
    assert (ticket.expert_id, ticket.status, ticket.passed_over) == ("E01", "answered", [])
    assert [kind for kind, _ in await events(kb, tid)] == ["assigned", "answered"]


async def test_two_city_team_declines_at_once_both_count(kb: Sessions, service: TicketService):
    tid = await at_city_team(kb, service)

    async def c02_declines() -> None:
        async with kb() as other:
            await service.decline(other, tid, "C02")

    async with kb() as session:
        ran = interleave(session, c02_declines)
        await service.decline(session, tid, "C01")
    ticket = await load(kb, tid)
    assert ran
    assert sorted(ticket.passed_over) == ["C01", "C02", "E01", "E02"]
    assert (ticket.tier, ticket.offered_to, ticket.expert_id) == ("admin", [], None)  # nobody left


async def test_city_claim_racing_the_escalation_keeps_the_claim(
    kb: Sessions, service: TicketService, clock: FakeClock
):
    tid = await at_city_team(kb, service)
    clock.advance(minutes=31)  # the city team stayed silent...

    async def c01_claims() -> None:  # ...until C01 claims as the sweep escalates
        async with kb() as other:
            await service.claim(other, tid, "C01")

    async with kb() as session:
        ran = interleave(session, c01_claims)
        moved = await service.reassign_silent(session)
    ticket = await load(kb, tid)
    assert ran and moved == 0
    assert (ticket.tier, ticket.status, ticket.expert_id) == ("city", "assigned", "C01")
    assert "escalated" not in [kind for kind, _ in await events(kb, tid)]


async def test_escalation_racing_a_city_claim_refuses_the_claim(
    kb: Sessions, service: TicketService, clock: FakeClock
):
    """The other order: the escalation lands first, so the claim (no longer offered) fails
    instead of leaving a held ticket in the admin queue."""
    tid = await at_city_team(kb, service)
    clock.advance(minutes=31)

    async def sweep() -> None:
        async with kb() as other:
            assert await service.reassign_silent(other) == 1

    async with kb() as session:
        ran = interleave(session, sweep)
        with pytest.raises(AccessDeniedError):
            await service.claim(session, tid, "C01")
    ticket = await load(kb, tid)
    assert ran
    assert (ticket.tier, ticket.status, ticket.expert_id) == ("admin", "open", None)


async def test_opening_the_same_question_twice_at_once_gives_one_ticket(kb: Sessions, service: TicketService):
    qid = await question(kb, ["E01"])
    first: list[str] = []

    async def other_opens() -> None:
        async with kb() as other:
            first.append((await service.open_for_question(other, qid)).token)

    async with kb() as session:
        ran = interleave(session, other_opens)
        second = await service.open_for_question(session, qid)
    assert ran and not second.created
    async with kb() as session:
        count = await session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.question_id == qid)
        )
        messages = await session.scalar(
            select(func.count()).select_from(TicketMessage).where(TicketMessage.ticket_id == second.ticket.id)
        )
        assert (count, messages) == (1, 1)
        for token in (first[0], second.token):
            assert (await service.for_worker(session, second.ticket.id, token)).id == second.ticket.id


async def test_worker_message_racing_an_answer_reopens_the_ticket(
    kb: Sessions, service: TicketService, clock: FakeClock
):
    """A worker writes while the expert answers: both messages are kept, and the ticket ends
    up waiting for the expert again (the worker's words came after the answer)."""
    tid, token = await opened_with_token(kb, service, ["E01"])
    clock.advance(minutes=10)

    async def e01_answers() -> None:
        async with kb() as other:
            await service.answer(other, tid, "E01", "先检查溢流阀")

    async with kb() as session:
        ticket = await service.for_worker(session, tid, token)
        ran = interleave(session, e01_answers)
        await service.worker_writes(session, ticket, "补充：压力表读数偏低")
    ticket = await load(kb, tid)
    assert ran and ticket.status == "assigned" and ticket.assigned_at == clock.now()  # reopened now
    async with kb() as session:
        authors = (
            await session.scalars(
                select(TicketMessage.author).where(TicketMessage.ticket_id == tid).order_by(TicketMessage.id)
            )
        ).all()
    assert authors == ["worker", "expert", "worker"]


# ---- helpers ----------------------------------------------------------------------------


async def opened(kb: Sessions, service: TicketService, ranked: list[str]) -> str:
    return (await opened_with_token(kb, service, ranked))[0]


async def opened_with_token(kb: Sessions, service: TicketService, ranked: list[str]) -> tuple[str, str]:
    qid = await question(kb, ranked)
    async with kb() as session:
        ticket = await service.open_for_question(session, qid)
    return ticket.ticket.id, ticket.token


async def at_city_team(kb: Sessions, service: TicketService) -> str:
    tid = await opened(kb, service, ["E01", "E02"])
    async with kb() as session:
        await service.decline(session, tid, "E01")
        await service.decline(session, tid, "E02")
    ticket = await load(kb, tid)
    assert (ticket.tier, sorted(ticket.offered_to)) == ("city", ["C01", "C02"])
    return tid
