"""The confirm band: a plausible case proposed on a ticket, settled by the expert with one tap or
by the worker's 解决了, and the labelled pairs each of these leaves (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import texts
from bot.service.feedback import record_feedback
from bot.service.tickets import TicketService
from knowledge.errors import ConflictError
from knowledge.interchange import import_dir
from knowledge.models import DecisionLabel, Question, TicketMessage
from tests.factories import case, knowledge_folder
from tests.service.conftest import Sessions
from tests.service.test_tickets import events, load


@pytest.fixture
async def with_case(kb: Sessions, tmp_path: Path) -> Sessions:
    async with kb() as session:
        await import_dir(session, knowledge_folder(tmp_path / "cases", cases=[case("K001")]))
    return kb


async def proposed(sessions: Sessions, service: TicketService, ranked: list[str]) -> tuple[str, str]:
    """A question the policy sent to confirm: its ticket proposes K001. (question id, ticket id)"""
    qid = uuid.uuid4().hex
    async with sessions() as session:
        question = Question(
            id=qid,
            text="挖掘机大臂自己慢慢往下落",
            site_code="xcmg-3",
            decision="confirm",
            expert_ids=ranked,
            top_case_id="K001",
        )
        session.add(question)
        opened = await service.open_new(session, question, "web", None, proposed_case_id="K001")
        await session.commit()
    return qid, opened.ticket.id


async def labels(sessions: Sessions) -> list[tuple[str, bool, str]]:
    async with sessions() as session:
        rows = (await session.scalars(select(DecisionLabel).order_by(DecisionLabel.id))).all()
    return [(r.case_id, r.answers, r.source) for r in rows]


async def test_the_expert_confirms_and_the_worker_has_the_case_as_the_answer(
    with_case: Sessions, service: TicketService
):
    qid, tid = await proposed(with_case, service, ["E01"])
    assert (await load(with_case, tid)).proposal == "pending"
    async with with_case() as session:
        await service.settle_proposal(session, tid, "E01", correct=True)
    ticket = await load(with_case, tid)
    assert (ticket.status, ticket.proposal, ticket.expert_id) == ("answered", "confirmed", "E01")
    assert ticket.first_answer_at is not None and ticket.claimed_at is not None
    async with with_case() as session:
        answer = await session.scalar(
            select(TicketMessage).where(TicketMessage.ticket_id == tid, TicketMessage.author == "expert")
        )
    assert answer is not None and answer.text == texts.CASE_CONFIRMED.format(
        title="案例K001", answer="检查动臂油缸内泄，更换密封件。"
    )
    assert await events(with_case, tid) == [("assigned", "expert:E01"), ("answered", "worker")]
    assert await labels(with_case) == [("K001", True, "expert")]
    async with with_case() as session:  # one tap only
        with pytest.raises(ConflictError):
            await service.settle_proposal(session, tid, "E01", correct=False)


async def test_the_expert_declines_and_answers_it_himself(with_case: Sessions, service: TicketService):
    qid, tid = await proposed(with_case, service, ["E01"])
    async with with_case() as session:
        await service.settle_proposal(session, tid, "E01", correct=False)
    ticket = await load(with_case, tid)
    assert (ticket.status, ticket.proposal, ticket.expert_id) == ("assigned", "declined", "E01")
    assert ticket.claimed_at is not None  # "我来回答": the ticket is his now
    assert await events(with_case, tid) == [("assigned", "expert:E01"), ("case_declined", "worker")]
    assert await labels(with_case) == [("K001", False, "expert")]
    async with with_case() as session:
        await service.answer(session, tid, "E01", "先检查保持阀")
    assert (await load(with_case, tid)).status == "answered"


async def test_a_city_team_member_can_settle_the_proposal(with_case: Sessions, service: TicketService):
    qid, tid = await proposed(with_case, service, ["E01"])
    async with with_case() as session:
        await service.decline(session, tid, "E01")  # to the city team, offered to C01 and C02
        await service.settle_proposal(session, tid, "C02", correct=True)
    ticket = await load(with_case, tid)
    assert (ticket.expert_id, ticket.offered_to, ticket.status) == ("C02", [], "answered")


async def test_the_worker_solved_it_with_the_case_and_the_ticket_closes(
    with_case: Sessions, service: TicketService
):
    qid, tid = await proposed(with_case, service, ["E01"])
    async with with_case() as session:
        assert await record_feedback(session, service, qid, True, "K001") is None
    ticket = await load(with_case, tid)
    assert (ticket.status, ticket.proposal) == ("closed", "confirmed")
    assert await events(with_case, tid) == [("assigned", "expert:E01"), ("closed", "expert:E01")]
    assert await labels(with_case) == [("K001", True, "worker")]
    async with with_case() as session:
        with pytest.raises(ConflictError):  # nothing left to confirm
            await service.settle_proposal(session, tid, "E01", correct=True)


async def test_the_worker_says_the_case_did_not_help_and_keeps_the_same_ticket(
    with_case: Sessions, service: TicketService
):
    qid, tid = await proposed(with_case, service, ["E01"])
    async with with_case() as session:
        opened = await record_feedback(session, service, qid, False, "K001")
    assert opened is not None and opened.ticket.id == tid and not opened.created
    assert (await load(with_case, tid)).status == "assigned"
    assert await labels(with_case) == [("K001", False, "worker")]


async def test_an_answer_in_words_ends_the_wait_for_a_tap(with_case: Sessions, service: TicketService):
    qid, tid = await proposed(with_case, service, ["E01"])
    async with with_case() as session:
        await service.answer(session, tid, "E01", "不是这个原因，先查保持阀")
    ticket = await load(with_case, tid)
    assert (ticket.status, ticket.proposal) == ("answered", None)
    assert await labels(with_case) == []  # no verdict on the case was given
