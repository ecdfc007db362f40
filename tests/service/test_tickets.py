"""The ticket lifecycle on a real database (SQLite and PostgreSQL) with a fake clock."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.clock import FakeClock
from bot.service.outbox import Notification, OutboxDispatcher
from bot.service.tickets import TicketService
from knowledge.errors import AccessDeniedError, ConflictError, InvalidInputError, NotFoundError
from knowledge.models import Expert, OutboxEvent, Question, Ticket
from tests.factories import pixels, png_bytes, stored

Sessions = async_sessionmaker[AsyncSession]
PNG = png_bytes()


async def question(sessions: Sessions, ranked: list[str], text: str = "挖掘机动臂下沉") -> str:
    qid = uuid.uuid4().hex
    async with sessions() as session:
        session.add(Question(id=qid, text=text, site_code="xcmg-3", decision="route", expert_ids=ranked))
        await session.commit()
    return qid


async def events(sessions: Sessions, ticket_id: str) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.ticket_id == ticket_id).order_by(OutboxEvent.id)
            )
        ).all()
    return [(e.kind, e.recipient) for e in rows]


async def load(sessions: Sessions, ticket_id: str) -> Ticket:
    return await stored(sessions, Ticket, ticket_id)


async def test_open_assigns_first_available_ranked_expert(kb: Sessions, service: TicketService):
    qid = await question(kb, ["E03", "E04", "E01", "E02"])  # inactive, full, then E01
    async with kb() as session:
        opened = await service.open_for_question(session, qid)
    assert len(opened.token) >= 43  # 256 bits, url-safe
    ticket = await load(kb, opened.ticket.id)
    assert (ticket.status, ticket.expert_id, ticket.tier) == ("assigned", "E01", "ranked")
    assert ticket.token_hash != opened.token
    assert await events(kb, ticket.id) == [("assigned", "expert:E01")]
    async with kb() as session:
        retried = await service.open_for_question(session, qid)  # the first answer was lost
        assert (retried.ticket.id, retried.created) == (ticket.id, False)
        assert retried.token != opened.token
        for token in (opened.token, retried.token):  # both work
            assert (await service.for_worker(session, ticket.id, token)).id == ticket.id
        assert await events(kb, ticket.id) == [("assigned", "expert:E01")]  # nothing assigned twice
        with pytest.raises(NotFoundError):
            await service.open_for_question(session, "nope")


async def test_full_lifecycle_answer_reopen_close(kb: Sessions, service: TicketService, clock: FakeClock):
    qid = await question(kb, ["E01"])
    async with kb() as session:
        opened = await service.open_for_question(session, qid)
    tid = opened.ticket.id
    async with kb() as session:
        claimed = await service.claim(session, tid, "E01")
        assert claimed.claimed_at is not None
        clock.advance(minutes=12)
        await service.answer(session, tid, "E01", "检查动臂油缸内泄")
    ticket = await load(kb, tid)
    assert ticket.status == "answered" and ticket.first_answer_at == clock.now()
    async with kb() as session:
        ticket = await service.for_worker(session, tid, opened.token)
        await service.worker_writes(session, ticket, "换了密封还是掉")
    assert (await load(kb, tid)).status == "assigned"  # reopened, same expert
    async with kb() as session:
        clock.advance(minutes=5)
        await service.answer(session, tid, "E01", "再查多路阀")
        ticket = await service.for_worker(session, tid, opened.token)
        await service.close(session, ticket, rating=5)
        with pytest.raises(ConflictError):
            await service.worker_writes(session, ticket, "还在吗")
    ticket = await load(kb, tid)
    assert (ticket.status, ticket.rating) == ("closed", 5)
    assert ticket.first_answer_at < ticket.answered_at  # the first answer time is kept
    assert await events(kb, tid) == [
        ("assigned", "expert:E01"),
        ("answered", "worker"),
        ("message", "expert:E01"),
        ("answered", "worker"),
        ("closed", "expert:E01"),
    ]


async def test_decline_moves_on_then_city_team_then_admin_queue(kb: Sessions, service: TicketService):
    qid = await question(kb, ["E01", "E02"])
    async with kb() as session:
        tid = (await service.open_for_question(session, qid)).ticket.id
        await service.decline(session, tid, "E01")
    assert (await load(kb, tid)).expert_id == "E02"
    async with kb() as session:
        await service.decline(session, tid, "E02")
    ticket = await load(kb, tid)
    assert (ticket.tier, ticket.status, ticket.expert_id) == ("city", "open", None)
    assert sorted(ticket.offered_to) == ["C01", "C02"]
    async with kb() as session:
        assert [t.id for t in await service.assigned_to(session, "C02")] == [tid]
        await service.decline(session, tid, "C01")
        await service.decline(session, tid, "C02")
    ticket = await load(kb, tid)
    assert (ticket.tier, ticket.status, ticket.expert_id) == ("admin", "open", None)
    kinds = await events(kb, tid)
    assert ("reassigned", "expert:E01") in kinds and ("escalated", "admin") in kinds
    async with kb() as session:  # an admin hands it to someone
        await service.assign(session, tid, "E02")
    assert (await load(kb, tid)).expert_id == "E02"


async def test_the_holder_is_reminded_once_before_the_ticket_moves_on(
    kb: Sessions, service: TicketService, clock: FakeClock
):
    """30 minutes of silence, a reminder 10 minutes ahead: at 20 minutes, once per holder."""
    qid = await question(kb, ["E01", "E02"])
    async with kb() as session:
        tid = (await service.open_for_question(session, qid)).ticket.id
        clock.advance(minutes=19)
        await service.reassign_silent(session)
        assert ("reminded", "expert:E01") not in await events(kb, tid)
        clock.advance(minutes=1)
        for _ in range(3):  # every sweep looks; one reminder
            assert await service.reassign_silent(session) == 0
        assert (await events(kb, tid)).count(("reminded", "expert:E01")) == 1
        clock.advance(minutes=10)
        assert await service.reassign_silent(session) == 1  # moved on to E02 ...
        clock.advance(minutes=20)
        await service.reassign_silent(session)
        assert (await events(kb, tid)).count(("reminded", "expert:E02")) == 1  # ... who is reminded too
        await service.claim(session, tid, "E02")
        clock.advance(minutes=9)
        await service.reassign_silent(session)
    assert [e for e in await events(kb, tid) if e[0] == "reminded"] == [
        ("reminded", "expert:E01"),
        ("reminded", "expert:E02"),
    ]


async def test_a_claimed_ticket_gets_no_reminder(kb: Sessions, service: TicketService, clock: FakeClock):
    qid = await question(kb, ["E01", "E02"])
    async with kb() as session:
        tid = (await service.open_for_question(session, qid)).ticket.id
        await service.claim(session, tid, "E01")
        clock.advance(minutes=25)
        assert await service.reassign_silent(session) == 0
    assert ("reminded", "expert:E01") not in await events(kb, tid)


async def test_silence_reassigns_and_tells_the_first_expert(
    kb: Sessions, service: TicketService, clock: FakeClock
):
    qid = await question(kb, ["E01", "E02"])
    async with kb() as session:
        tid = (await service.open_for_question(session, qid)).ticket.id
        clock.advance(minutes=29)
        assert await service.reassign_silent(session) == 0
        clock.advance(minutes=1)
        assert await service.reassign_silent(session) == 1
    assert (await load(kb, tid)).expert_id == "E02"
    assert ("reassigned", "expert:E01") in await events(kb, tid)
    async with kb() as session:  # E02 claims in time: no move at 30 min, but after 4 h unanswered
        await service.claim(session, tid, "E02")
        clock.advance(minutes=31)
        assert await service.reassign_silent(session) == 0
        clock.advance(hours=4)
        assert await service.reassign_silent(session) == 1
    ticket = await load(kb, tid)
    assert ticket.tier == "city" and ticket.passed_over == ["E01", "E02"]
    async with kb() as session:  # nobody in the city team claims: admin queue
        clock.advance(minutes=30)
        assert await service.reassign_silent(session) == 1
    assert (await load(kb, tid)).tier == "admin"


async def test_an_expert_deactivated_outside_the_admin_form_is_released_by_the_next_sweep(
    kb: Sessions, service: TicketService
):
    """An import or a script sets ``active`` false without passing tickets on: the sweep does,
    at once and not after the silence deadline."""
    qid = await question(kb, ["E01", "E02"])
    async with kb() as session:
        tid = (await service.open_for_question(session, qid)).ticket.id
        await session.execute(update(Expert).where(Expert.id == "E01").values(active=False))
        await session.commit()
        assert await service.reassign_silent(session) == 1
        assert await service.reassign_silent(session) == 0  # nothing left to release
    ticket = await load(kb, tid)
    assert (ticket.expert_id, ticket.passed_over) == ("E02", ["E01"])
    assert ("reassigned", "expert:E01") in await events(kb, tid)


async def test_access_rules_of_experts_and_workers(kb: Sessions, service: TicketService):
    qid = await question(kb, ["E01"])
    async with kb() as session:
        opened = await service.open_for_question(session, qid)
        tid = opened.ticket.id
        with pytest.raises(AccessDeniedError):
            await service.answer(session, tid, "E02", "我来答")
        with pytest.raises(AccessDeniedError):
            await service.for_expert(session, tid, "E02")
        with pytest.raises(ConflictError, match="another expert"):
            await service.claim(session, tid, "E02")
        with pytest.raises(AccessDeniedError):
            await service.decline(session, tid, "E02")
        with pytest.raises(NotFoundError):
            await service.for_worker(session, tid, "wrong-token")
        with pytest.raises(NotFoundError):
            await service.for_worker(session, "no-such-id", opened.token)
        with pytest.raises(InvalidInputError):
            ticket = await service.for_worker(session, tid, opened.token)
            await service.close(session, ticket, rating=6)


async def test_two_experts_claiming_at_once_exactly_one_wins(kb: Sessions, service: TicketService):
    qid = await question(kb, [])  # no ranked candidate: offered to the city team
    async with kb() as session:
        tid = (await service.open_for_question(session, qid)).ticket.id
    assert (await load(kb, tid)).offered_to == ["C01", "C02"]

    async def try_claim(expert_id: str) -> str:
        async with kb() as session:
            try:
                await service.claim(session, tid, expert_id)
                return "won"
            except ConflictError:
                return "409"

    results = await asyncio.gather(try_claim("C01"), try_claim("C02"))
    assert sorted(results) == ["409", "won"]
    ticket = await load(kb, tid)
    winner = "C01" if results[0] == "won" else "C02"
    assert ticket.expert_id == winner and ticket.claimed_at is not None and ticket.offered_to == []


async def test_photos_are_checked_by_content(kb: Sessions, service: TicketService, tmp_path: Path):
    qid = await question(kb, ["E01"])
    async with kb() as session:
        opened = await service.open_for_question(session, qid)
        ticket = await service.for_worker(session, opened.ticket.id, opened.token)
        message = await service.worker_writes(session, ticket, "", photo=PNG)
        assert message.photo and message.photo.endswith(".png")
        assert pixels((tmp_path / "uploads" / ticket.id / message.photo).read_bytes()) == pixels(PNG)
        for bad, reason in (
            (b"GIF89a" + b"\x00" * 10, "only JPEG, PNG or WebP"),
            (b"%PDF-1.4 pretending", "only JPEG, PNG or WebP"),
            (b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024), "at most"),
            (b"", "empty"),
        ):
            with pytest.raises(InvalidInputError, match=reason):
                await service.worker_writes(session, ticket, "", photo=bad)


class FlakyNotifier:
    """A channel that fails until repaired, then records what it got (dropping duplicates)."""

    def __init__(self) -> None:
        self.broken = True
        self.seen: dict[int, str] = {}

    async def deliver(self, event: Notification) -> None:
        if self.broken:
            raise ConnectionError("channel down")
        self.seen.setdefault(event.id, event.kind)


async def test_outbox_survives_a_crash_between_change_and_delivery(
    kb: Sessions, service: TicketService, clock: FakeClock
):
    qid = await question(kb, ["E01"])
    async with kb() as session:
        opened = await service.open_for_question(session, qid)
        await service.answer(session, opened.ticket.id, "E01", "答复")
    notifier = FlakyNotifier()
    assert await OutboxDispatcher(kb, [notifier], clock=clock).deliver_pending() == 0  # "crash": nothing sent
    # a new process (new dispatcher) after the restart delivers everything still pending, once due
    notifier.broken = False
    clock.advance(seconds=3)
    restarted = OutboxDispatcher(kb, [notifier], clock=clock)
    assert await restarted.deliver_pending() == 2
    assert sorted(notifier.seen.values()) == ["answered", "assigned"]
    assert await restarted.deliver_pending() == 0
    async with kb() as session:
        pending = (await session.scalars(select(OutboxEvent).where(OutboxEvent.delivered_at.is_(None)))).all()
        attempts = [e.attempts for e in (await session.scalars(select(OutboxEvent))).all()]
    assert pending == [] and attempts == [1, 1]
