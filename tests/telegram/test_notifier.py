"""The outbox's Telegram adapter: who gets what, duplicates dropped by event id, chats that
blocked the bot given up on, Telegram outages left for the outbox to retry, and flood
control turned into a deferral."""

from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramServerError
from aiogram.methods import SendMessage, SendPhoto
from aiogram.methods.base import Response
from aiogram.types import ResponseParameters
from sqlalchemy import select

from bot.service.outbox import DeliveryDeferred, Notification
from bot.telegram.notifier import TelegramNotifier
from knowledge.models import TelegramDelivery
from tests.factories import png_bytes
from tests.telegram.conftest import ADMIN_ID, Talk, buttons
from tests.telegram.helpers import bind, open_ticket
from tests.utils.mocked_bot import MockedBot


@pytest.fixture
def notifier(talk: Talk) -> TelegramNotifier:
    """A second notifier with its own bot, called directly (the context's runs in the
    background with ``talk.bot``)."""
    return TelegramNotifier(
        MockedBot(first_message_id=50_000),
        talk.context.sessions,
        talk.context.tickets.photos,
        [ADMIN_ID],
    )


def answered(
    event_id: int, ticket_id: str, channel: str = "telegram", chat_id: int | None = 5001, **payload: object
) -> Notification:
    return Notification(
        event_id,
        "answered",
        ticket_id,
        "worker",
        {
            "channel": channel,
            "chat_id": chat_id,
            "text": "换个保险丝",
            "expert_name": "王建国",
            "expert_title": "高级技师",
            **payload,
        },
    )


async def test_an_answer_reaches_a_telegram_worker_once(talk: Talk, notifier: TelegramNotifier):
    ticket, _ = await open_ticket(talk, 5001)
    await notifier.deliver(answered(900_001, ticket.id))
    await notifier.deliver(answered(900_001, ticket.id))  # redelivered by the outbox
    sent = notifier.bot.sent(SendMessage, chat_id=5001)
    assert len(sent) == 1
    assert "<b>王建国</b>（高级技师） 师傅回复" in sent[0][0].text and buttons(sent[0][0])


async def test_web_tickets_and_unbound_experts_are_not_for_telegram(talk: Talk, notifier: TelegramNotifier):
    ticket, _ = await open_ticket(talk, 5002)
    await bind(talk, ticket.expert_id, None)  # the demo experts come with Telegram ids
    await notifier.deliver(answered(900_002, ticket.id, channel="web", chat_id=None))
    await notifier.deliver(
        Notification(
            900_003,
            "assigned",
            ticket.id,
            f"expert:{ticket.expert_id}",
            {"channel": "telegram", "chat_id": 5002, "text": ticket.text},
        )
    )
    assert notifier.bot.session.requests == []
    async with talk.context.sessions() as session:
        marked = (await session.scalars(select(TelegramDelivery.event_id))).all()
    assert 900_002 not in marked and 900_003 not in marked


async def test_expert_events_reach_a_bound_expert(talk: Talk, notifier: TelegramNotifier):
    ticket, _ = await open_ticket(talk, 5003)
    await bind(talk, ticket.expert_id, 5004)
    expert = f"expert:{ticket.expert_id}"
    base = {"channel": "telegram", "chat_id": 5003}
    await notifier.deliver(Notification(900_010, "assigned", ticket.id, expert, base | {"text": "<急>"}))
    await notifier.deliver(
        Notification(900_011, "reassigned", ticket.id, expert, base | {"reason": "silent"})
    )
    await notifier.deliver(Notification(900_012, "closed", ticket.id, expert, base | {"rating": 4}))
    texts = [request.text for request, _ in notifier.bot.sent(SendMessage, chat_id=5004)]
    assert "&lt;急&gt;" in texts[0] and "长时间未处理" in texts[1] and "★★★★" in texts[2]


async def test_a_reminder_can_be_claimed_from(talk: Talk, notifier: TelegramNotifier):
    ticket, _ = await open_ticket(talk, 5008)
    await bind(talk, ticket.expert_id, 5009)
    payload = {"channel": "telegram", "chat_id": 5008, "text": "<急>", "minutes_left": 10}
    await notifier.deliver(
        Notification(900_050, "reminded", ticket.id, f"expert:{ticket.expert_id}", payload)
    )
    [(request, _)] = notifier.bot.sent(SendMessage, chat_id=5009)
    assert (
        "提醒" in request.text and "10 分钟后将转给其他师傅" in request.text and "&lt;急&gt;" in request.text
    )
    assert [b.text for row in request.reply_markup.inline_keyboard for b in row][0] == "认领"


async def test_escalations_reach_the_telegram_admins(talk: Talk, notifier: TelegramNotifier):
    ticket, _ = await open_ticket(talk, 5005)
    await notifier.deliver(Notification(900_020, "escalated", ticket.id, "admin", {"text": ticket.text}))
    assert len(notifier.bot.sent(SendMessage, chat_id=ADMIN_ID)) == 1


async def test_a_photo_goes_before_the_answer(talk: Talk, notifier: TelegramNotifier):
    ticket, _ = await open_ticket(talk, 5006)
    name = await talk.context.tickets.photos.save(ticket.id, png_bytes())
    await notifier.deliver(answered(900_030, ticket.id, chat_id=5006, photo=name))
    kinds = [type(request) for request, _ in notifier.bot.sent(chat_id=5006)]
    assert kinds == [SendPhoto, SendMessage]


async def test_a_blocked_chat_is_given_up_but_an_outage_is_retried(talk: Talk, notifier: TelegramNotifier):
    ticket, _ = await open_ticket(talk, 5007)
    session = notifier.bot.session
    session.add_result_for(
        SendMessage, ok=False, error_code=403, description="Forbidden: bot was blocked by the user"
    )
    await notifier.deliver(answered(900_040, ticket.id, chat_id=5007))
    session.add_result_for(SendMessage, ok=False, error_code=502, description="Bad Gateway")
    with pytest.raises(TelegramServerError):
        await notifier.deliver(answered(900_041, ticket.id, chat_id=5007))
    await notifier.deliver(answered(900_041, ticket.id, chat_id=5007))  # the retry goes through
    await notifier.deliver(answered(900_040, ticket.id, chat_id=5007))  # given up: stays so
    assert len(session.requests) == 3


async def test_flood_control_becomes_a_deferral(talk: Talk, notifier: TelegramNotifier):
    ticket, _ = await open_ticket(talk, 5008)
    session = notifier.bot.session
    session.responses.append(
        (
            SendMessage,
            Response[object](
                ok=False,
                error_code=429,
                description="Too Many Requests: retry after 30",
                parameters=ResponseParameters(retry_after=30),
            ),
        )
    )
    with pytest.raises(DeliveryDeferred) as deferred:
        await notifier.deliver(answered(900_050, ticket.id, chat_id=5008))
    assert deferred.value.seconds == 30
    async with talk.context.sessions() as db:
        assert 900_050 not in (await db.scalars(select(TelegramDelivery.event_id))).all()
    await notifier.deliver(answered(900_050, ticket.id, chat_id=5008))  # after the wait: sent
    assert len(notifier.bot.sent(SendMessage, chat_id=5008)) == 2
