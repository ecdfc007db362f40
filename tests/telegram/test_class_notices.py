"""Classes in Telegram: a question on a class's subject gets a 相关课程 line, and a recording
reaches the sign-ups made from Telegram (the web ones read it on their page)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram.methods import SendMessage
from sqlalchemy import select

from bot.service.classes import save_class
from bot.service.outbox import Notification
from bot.service.signups import sign_up
from bot.telegram.notifier import TelegramNotifier
from knowledge.db import WriteGate
from knowledge.interchange import CLASSES, row_to_record
from knowledge.models import OutboxEvent, TrainingClass
from tests.telegram.conftest import ADMIN_ID, Talk, texts_of
from tests.utils.mocked_bot import MockedBot

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


async def test_a_question_on_a_class_subject_lists_the_class(talk: Talk):
    said = texts_of(await talk.say(7001, "焊钳一焊就火星乱飞，焊点周围有毛刺，车身上烫出小坑。"))
    related = [text for text in said if text.startswith("<b>相关课程</b>")]
    assert len(related) == 1
    assert "电阻点焊质量控制：虚焊与飞溅（公开课，02-20 09:00）" in related[0]
    assert "/classes?class=C02" in related[0]


async def test_the_recording_reaches_telegram_sign_ups_only(talk: Talk):
    sessions = talk.context.sessions
    async with sessions() as session:
        web, _ = await sign_up(session, WriteGate(None), "C03", "王师傅", "邳州某电机", "13800000001", NOW)
        tg, _ = await sign_up(
            session, WriteGate(None), "C03", "李师傅", "邳州某电机", "13800000002", NOW, 7002
        )
        record = row_to_record(await session.get(TrainingClass, "C03"), CLASSES)
        link = "https://video.example.cn/v/c03?a=1&b=<2>"
        await save_class(session, None, "C03", record | {"recording_url": link}, NOW)
        events = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.ticket_id.in_([web.id, tg.id])))
        ).all()
    notifier = TelegramNotifier(
        MockedBot(first_message_id=60_000), sessions, talk.context.tickets.photos, [ADMIN_ID]
    )
    for event in events:
        await notifier.deliver(
            Notification(event.id, event.kind, event.ticket_id, event.recipient, event.payload)
        )
    sent = [request for request, _ in notifier.bot.sent(SendMessage)]
    assert [request.chat_id for request in sent] == [7002]
    assert "变频器故障代码解读与参数调试（云课堂）" in sent[0].text
    assert "https://video.example.cn/v/c03?a=1&amp;b=&lt;2&gt;" in sent[0].text  # escaped for HTML mode
