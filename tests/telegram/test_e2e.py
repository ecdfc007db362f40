"""Whole conversations with the real bot: aiogram long polling (and webhook mode) against a
Bot API emulator on loopback, the real app context on the demo knowledge. Each test has its
own bot token and chat ids. Skipped, with the reason, when node/npm or the emulator package
is missing.

All tests here share one event loop: the process has one dispatcher (a router has one
parent), and aiogram's polling keeps its stop signal bound to the loop it first ran in."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from bot import texts
from bot.app import create_app
from bot.context import AppContext, open_context
from bot.settings import Settings, TelegramSettings
from bot.telegram import webhook
from bot.telegram.callbacks import FeedbackCb, RateCb
from knowledge.models import Question, Ticket, TicketMessage
from tests.telegram.bot_api_emulator import BOT_USERNAME, Emulator, Person, buttons
from tests.telegram.helpers import ROUTED, SUGGESTED
from tests.utils.auth import ADMIN, ADMIN_TOKEN
from tests.utils.wait import eventually

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]
PNG_1X1_SIZE = 70
_bot_ids = itertools.count(700_001)


@pytest.fixture
def e2e_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, telegram_emulator: Emulator, demo_index_dir: Path
) -> Settings:
    """A data dir with the demo knowledge and index; a bot token of its own."""
    for name in list(os.environ):
        if name.startswith("CRAFTDESK_") and name != "CRAFTDESK_TEST_MODEL_CACHE":
            monkeypatch.delenv(name)
    settings = Settings(
        env="test",
        data_dir=tmp_path / "var",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}",
        admin_token=ADMIN_TOKEN,
        telegram=TelegramSettings(
            bot_token=f"{next(_bot_ids)}:e2e-token", api_base=telegram_emulator.base_url
        ),
    )
    shutil.copytree(demo_index_dir, settings.index_dir, symlinks=True)
    return settings


@asynccontextmanager
async def running(settings: Settings, encoder) -> AsyncIterator[tuple[AppContext, httpx.AsyncClient]]:  # type: ignore[no-untyped-def]
    """The context (which starts the bot) and an HTTP client of its app (admin, expert API)."""
    async with open_context(settings, encoder=encoder) as context:
        app = create_app(settings, context)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
            yield context, http


@pytest.fixture
async def user_side(telegram_emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=telegram_emulator.base_url, timeout=10) as http:
        yield http


def token(settings: Settings) -> str:
    assert settings.telegram.bot_token is not None
    return settings.telegram.bot_token.get_secret_value()


async def test_deep_link_question_suggestions_and_solved(e2e_settings, encoder, user_side):
    async with running(e2e_settings.model_copy(update={"import_demo_when_empty": True}), encoder) as (
        context,
        _,
    ):
        worker = Person(user_side, token(e2e_settings), 810_001)
        await worker.command("/start xcmg-hv-3")
        await worker.receive_text("徐工重型 三号车间")
        await worker.send(SUGGESTED)
        await worker.receive_text(texts.SUGGEST_REPLY)
        case = await worker.receive(lambda m: bool(m.get("reply_markup")))
        assert [b["text"] for b in buttons(case)] == [texts.TG_BTN_SOLVED, texts.TG_BTN_NOT_SOLVED]
        await worker.press(case, FeedbackCb(solved=True).pack())
        await worker.receive_text(texts.TG_SOLVED)
        async with context.sessions() as session:
            question = await session.scalar(select(Question).where(Question.channel == "telegram"))
        assert (question.site_code, question.solved, question.solved_case_id) == ("xcmg-hv-3", True, "K001")
        await worker.command("/start no-such-site")
        await worker.receive_text(texts.TG_UNKNOWN_SITE)


async def test_not_solved_goes_to_a_bound_expert_whose_answer_comes_back_and_is_rated(
    e2e_settings, encoder, user_side
):
    settings = e2e_settings.model_copy(update={"import_demo_when_empty": True})
    async with running(settings, encoder) as (context, http):
        async with context.sessions() as session:  # who the question will go to
            outcome = (await context.ask.ask(session, SUGGESTED, "xcmg-hv-3")).outcome
        expert_id = outcome.experts[0].expert.id
        response = await http.post(f"/api/admin/experts/{expert_id}/telegram-link", headers=ADMIN)
        assert response.status_code == 201
        link = response.json()["link"]
        assert link.startswith(f"https://t.me/{BOT_USERNAME}?start=bind-")  # username from getMe

        expert = Person(user_side, token(settings), 820_002)
        await expert.command(f"/start {link.split('start=')[1]}")
        await expert.receive_text("绑定成功")

        worker = Person(user_side, token(settings), 820_001)
        await worker.command("/start xcmg-hv-3")
        await worker.receive_text("徐工重型")
        await worker.send(SUGGESTED)
        case = await worker.receive(lambda m: bool(m.get("reply_markup")))
        await worker.press(case, FeedbackCb(solved=False).pack())
        await worker.receive_text(outcome.experts[0].expert.name)

        assigned = await expert.receive_text("新工单")
        assert SUGGESTED in assigned["message"]["text"]
        await expert.press(assigned, buttons(assigned)[0]["callback_data"])  # 认领

        async def claimed() -> bool:
            async with context.sessions() as session:
                ticket = await session.scalar(select(Ticket).where(Ticket.worker_chat_id == worker.id))
                return ticket is not None and ticket.claimed_at is not None

        await eventually(claimed)

        await expert.send("复位前先检查X轴编码器插头", reply_to=assigned)
        await expert.receive_text(texts.TG_EXPERT_ANSWER_SENT)
        answer = await worker.receive_text("复位前先检查X轴编码器插头")
        assert "师傅回复" in answer["message"]["text"] and len(buttons(answer)) == 5

        await worker.send("插头是好的，还是报警", reply_to=answer)
        await worker.receive_text(texts.TG_WORKER_SENT)
        follow_up = await expert.receive_text("插头是好的，还是报警")
        await expert.send("那就更换编码器电池", reply_to=follow_up)
        second = await worker.receive_text("那就更换编码器电池")

        async with context.sessions() as session:
            ticket = await session.scalar(select(Ticket).where(Ticket.worker_chat_id == worker.id))
        await worker.press(second, RateCb(ticket_id=ticket.id, stars=5).pack())
        await worker.receive_text("谢谢您的评价（★★★★★）")
        await expert.receive_text("★★★★★")
        async with context.sessions() as session:
            ticket = await session.get(Ticket, ticket.id)
            thread = (
                await session.scalars(
                    select(TicketMessage.author)
                    .where(TicketMessage.ticket_id == ticket.id)
                    .order_by(TicketMessage.id)
                )
            ).all()
        assert (ticket.status, ticket.rating, ticket.expert_id) == ("closed", 5, expert_id)
        assert thread == ["worker", "expert", "worker", "expert"]


async def test_a_web_answer_reaches_the_telegram_worker_with_photos_both_ways(
    e2e_settings, encoder, user_side
):
    settings = e2e_settings.model_copy(update={"import_demo_when_empty": True})
    async with running(settings, encoder) as (context, http):
        worker = Person(user_side, token(settings), 830_001)
        await worker.send(ROUTED)
        announcement = await worker.receive_text(texts.TG_TICKET_HINT)
        async with context.sessions() as session:
            ticket = await session.scalar(select(Ticket).where(Ticket.worker_chat_id == worker.id))
        expert_token = (
            await http.post(f"/api/admin/experts/{ticket.expert_id}/token", headers=ADMIN)
        ).json()["token"]
        as_expert = {"Authorization": f"Bearer {expert_token}"}

        await worker.send(photo_id="alarm-screen", reply_to=announcement)  # fetched via getFile
        await worker.receive_text(texts.TG_WORKER_SENT)
        async with context.sessions() as session:
            photos = (
                await session.scalars(
                    select(TicketMessage.photo).where(
                        TicketMessage.ticket_id == ticket.id, TicketMessage.photo.is_not(None)
                    )
                )
            ).all()
        assert len(photos) == 1
        stored = settings.uploads_dir / ticket.id / photos[0]
        assert stored.stat().st_size == PNG_1X1_SIZE

        response = await http.post(
            f"/api/expert/tickets/{ticket.id}/photos",
            headers=as_expert,
            files={"photo": ("fix.png", stored.read_bytes(), "image/png")},
            data={"text": "按图中位置调整 <参数 1815>"},
        )
        assert response.status_code == 201
        await worker.receive(lambda m: bool(m.get("photo")))
        answer = await worker.receive_text("按图中位置调整 &lt;参数 1815&gt;")
        assert len(buttons(answer)) == 5


async def test_webhook_mode_takes_updates_only_with_the_secret(e2e_settings, encoder, user_side):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    telegram = e2e_settings.telegram.model_copy(
        update={"webhook_url": f"http://127.0.0.1:{port}{webhook.WEBHOOK_PATH}"}
    )
    settings = e2e_settings.model_copy(update={"telegram": telegram, "import_demo_when_empty": True})
    async with open_context(settings, encoder=encoder) as context:
        app = create_app(settings, context)
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            await eventually(lambda: asyncio.sleep(0, server.started))
            assert context.telegram is not None
            await asyncio.wait_for(context.telegram.ready.wait(), 10)
            worker = Person(user_side, token(settings), 840_001)
            await worker.command("/start xcmg-hv-3")  # the emulator posts it to our webhook
            await worker.receive_text("徐工重型 三号车间")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as outsider:
                forged = await outsider.post(
                    webhook.WEBHOOK_PATH, json={"update_id": 1}, headers={webhook.SECRET_HEADER: "guess"}
                )
            assert forged.status_code == 401
        finally:
            server.should_exit = True
            await serving
            sock.close()
