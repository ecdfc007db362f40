"""The expert's side: binding link, assigned tickets with claim / decline, answers given by
replying, /queue, and buttons pressed by someone the ticket does not belong to."""

from __future__ import annotations

from datetime import timedelta

from aiogram.methods import AnswerCallbackQuery
from sqlalchemy import select

from bot import texts
from bot.service.binding import issue_bind_code
from bot.telegram.callbacks import TicketAction, TicketCb
from knowledge.models import Expert, TicketMessage
from tests.telegram.conftest import Talk, buttons, texts_of
from tests.telegram.helpers import bind, load_ticket, open_ticket


def alerts(calls) -> list[str]:  # type: ignore[no-untyped-def]
    return [request.text for request, _ in calls if isinstance(request, AnswerCallbackQuery)]


async def assigned_to_bound_expert(talk: Talk, worker: int, expert_chat: int):  # type: ignore[no-untyped-def]
    """A worker's ticket and the message that brought it to its (bound) expert."""
    ticket, announcement = await open_ticket(talk, worker)
    await bind(talk, ticket.expert_id, expert_chat)
    async with talk.context.sessions() as session:  # handed over again: now the expert is bound
        await talk.context.tickets.assign(session, ticket.id, ticket.expert_id)
    request, result = await talk.delivered(expert_chat, lambda text: "新工单" in text)
    return ticket, announcement, request, result


async def test_a_binding_link_ties_the_account_once(talk: Talk):
    async with talk.context.sessions() as session:
        code = await issue_bind_code(session, "E01", talk.context.clock, timedelta(hours=1))
    reply = texts_of(await talk.say(2001, f"/start bind-{code.code}"))
    async with talk.context.sessions() as session:
        expert = await session.get(Expert, "E01")
    assert reply == [texts.TG_BIND_DONE.format(name=expert.name)] and expert.telegram_id == 2001
    assert texts_of(await talk.say(2002, f"/start bind-{code.code}")) == [texts.TG_BIND_FAILED]
    assert texts_of(await talk.say(2002, "/start bind-made-up")) == [texts.TG_BIND_FAILED]


async def test_an_expired_binding_link_is_refused(talk: Talk):
    async with talk.context.sessions() as session:
        code = await issue_bind_code(session, "E02", talk.context.clock, timedelta(seconds=-1))
    assert texts_of(await talk.say(2003, f"/start bind-{code.code}")) == [texts.TG_BIND_FAILED]


async def test_the_assigned_expert_gets_the_ticket_claims_it_and_answers_by_replying(talk: Talk):
    ticket, _, request, result = await assigned_to_bound_expert(talk, 2010, 2011)
    assert ticket.text in request.text
    assert buttons(request) == [
        (texts.TG_BTN_CLAIM, TicketCb(action=TicketAction.claim, ticket_id=ticket.id).pack()),
        (texts.TG_BTN_DECLINE, TicketCb(action=TicketAction.decline, ticket_id=ticket.id).pack()),
    ]
    claim = TicketCb(action=TicketAction.claim, ticket_id=ticket.id).pack()
    assert alerts(await talk.press(2011, claim, result.message_id)) == [texts.TG_CLAIMED]
    assert (await load_ticket(talk, ticket.id)).claimed_at is not None
    reply = await talk.say(2011, "检查伺服编码器插头是否松动", reply_to=result.message_id)
    assert texts_of(reply) == [texts.TG_EXPERT_ANSWER_SENT]
    await talk.delivered(2010, lambda text: "检查伺服编码器插头是否松动" in text)
    assert (await load_ticket(talk, ticket.id)).status == "answered"


async def test_ticket_buttons_of_someone_else_do_nothing_but_say_so(talk: Talk):
    ticket, _, _, result = await assigned_to_bound_expert(talk, 2020, 2021)
    async with talk.context.sessions() as session:
        someone = await session.scalar(select(Expert.id).where(Expert.id != ticket.expert_id))
    await bind(talk, someone, 2022)
    for action in TicketAction:
        data = TicketCb(action=action, ticket_id=ticket.id).pack()
        assert alerts(await talk.press(2022, data, result.message_id)) == [texts.TG_NOT_YOUR_TICKET]
        assert alerts(await talk.press(2023, data, result.message_id)) == [texts.TG_NOT_YOUR_TICKET]
    after = await load_ticket(talk, ticket.id)
    assert (after.expert_id, after.claimed_at, after.status) == (ticket.expert_id, None, "assigned")


async def test_declining_passes_the_ticket_on(talk: Talk):
    ticket, _, _, result = await assigned_to_bound_expert(talk, 2030, 2031)
    data = TicketCb(action=TicketAction.decline, ticket_id=ticket.id).pack()
    assert alerts(await talk.press(2031, data, result.message_id)) == [texts.TG_DECLINED]
    after = await load_ticket(talk, ticket.id)
    assert after.expert_id != ticket.expert_id and ticket.expert_id in after.passed_over
    await talk.delivered(2031, lambda text: "已转给其他师傅" in text)


async def test_the_workers_follow_up_reaches_the_expert_who_can_answer_it(talk: Talk):
    ticket, announcement, _, _ = await assigned_to_bound_expert(talk, 2040, 2041)
    await talk.say(2040, "补充：是 <FANUC> 系统", reply_to=announcement)
    request, result = await talk.delivered(2041, lambda text: "工人补充" in text)
    assert "&lt;FANUC&gt;" in request.text
    await talk.say(2041, "好的，那就查一下参数 1815", reply_to=result.message_id)
    async with talk.context.sessions() as session:
        authors = (
            await session.scalars(
                select(TicketMessage.author)
                .where(TicketMessage.ticket_id == ticket.id)
                .order_by(TicketMessage.id)
            )
        ).all()
    assert authors == ["worker", "worker", "expert"]


async def test_queue_lists_open_tickets_each_ready_to_answer(talk: Talk):
    ticket, _ = await open_ticket(talk, 2050)
    await bind(talk, ticket.expert_id, 2051)
    calls = await talk.say(2051, "/queue")
    sent = texts_of(calls)
    assert sent[0].startswith(texts.TG_QUEUE_HEADER) and f"#{ticket.id[:8]}" in sent[0]
    listed = [result for request, result in calls if buttons(request)]
    await talk.say(2051, "请检查参数", reply_to=listed[0].message_id)
    assert (await load_ticket(talk, ticket.id)).status == "answered"


async def test_queue_is_for_experts_only(talk: Talk):
    assert texts_of(await talk.say(2060, "/queue")) == [texts.TG_WELCOME]


async def test_a_deactivated_expert_is_a_stranger_to_the_bot(talk: Talk):
    """Deactivation ends the Telegram binding's powers at once: no queue, no claim."""
    ticket, _, _, result = await assigned_to_bound_expert(talk, 2070, 2071)
    async with talk.context.sessions() as session:
        expert = await session.get(Expert, ticket.expert_id)
        assert expert is not None
        expert.active = False
        await session.commit()
    # (the outbox may deliver a notification meanwhile: look at the answer to /queue only)
    sent = texts_of(await talk.say(2071, "/queue"))
    assert texts.TG_WELCOME in sent and not any(t.startswith(texts.TG_QUEUE_HEADER) for t in sent)
    claim = TicketCb(action=TicketAction.claim, ticket_id=ticket.id).pack()
    assert alerts(await talk.press(2071, claim, result.message_id)) == [texts.TG_NOT_YOUR_TICKET]
    assert (await load_ticket(talk, ticket.id)).claimed_at is None


async def test_a_proposed_case_is_confirmed_with_one_tap_and_reaches_the_worker(talk: Talk):
    """Decision confirm: the expert's ticket message carries the case and 对 / 不对 buttons; 对
    sends the case to the worker's chat as the answer."""
    import uuid

    from knowledge.models import Question

    await bind(talk, "E06", 2081)
    async with talk.context.sessions() as session:
        question = Question(
            id=uuid.uuid4().hex,
            text="数控车开机报401 伺服没准备好",
            decision="confirm",
            expert_ids=["E06"],
            top_case_id="K001",
            channel="telegram",
        )
        session.add(question)
        opened = await talk.context.tickets.open_new(
            session, question, "telegram", 2080, proposed_case_id="K001"
        )
        await session.commit()
    request, result = await talk.delivered(2081, lambda text: "请确认" in text)
    right = TicketCb(action=TicketAction.case_right, ticket_id=opened.ticket.id).pack()
    assert [data for _, data in buttons(request)][:2] == [
        right,
        TicketCb(action=TicketAction.case_wrong, ticket_id=opened.ticket.id).pack(),
    ]
    assert alerts(await talk.press(2081, right, result.message_id)) == [texts.TG_CASE_CONFIRMED]
    answer, _ = await talk.delivered(2080, lambda text: "师傅确认" in text)
    assert "SV0401" in answer.text
    ticket = await load_ticket(talk, opened.ticket.id)
    assert (ticket.status, ticket.proposal) == ("answered", "confirmed")
