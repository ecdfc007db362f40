"""A need (需求清单) in Telegram, end to end against the Bot API emulator: a steward matches a bound
expert, who gets the need with 接受 / 婉拒 and accepts by button; the Telegram admin hears of the
need as it is filed and of the answer, and the schedule reaches the expert. A stranger's press
changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bot import texts
from bot.telegram.callbacks import NeedCb
from knowledge.models import Expert, NeedExpert
from tests.telegram.bot_api_emulator import Person, buttons
from tests.telegram.test_e2e import e2e_settings, running, token, user_side  # noqa: F401
from tests.utils.auth import ADMIN
from tests.utils.wait import eventually

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]
EXPERT_CHAT, STRANGER_CHAT, ADMIN_CHAT = 830_001, 830_002, 830_009
FORM = {
    "station_id": "st-tongshan",
    "enterprise": "铜山某<汽车>零部件有限公司",
    "contact_name": "刘主席",
    "contact_phone": "13805160009",
    "industry": "汽车零部件",
    "problem": "冲压线压力机滑块偶发停顿，查了两周找不到原因",
    "urgency": "urgent",
    "help_wanted": ["onsite"],
    "workers_affected": 60,
}


async def test_the_matched_expert_accepts_a_need_by_button(e2e_settings, encoder, user_side):  # noqa: F811
    telegram = e2e_settings.telegram.model_copy(update={"admin_ids": [ADMIN_CHAT]})
    settings = e2e_settings.model_copy(update={"import_demo_when_empty": True, "telegram": telegram})
    async with running(settings, encoder) as (context, http):
        async with context.sessions() as session:
            await session.execute(update(Expert).where(Expert.id == "E10").values(telegram_id=EXPERT_CHAT))
            await session.execute(update(Expert).where(Expert.id == "E27").values(telegram_id=STRANGER_CHAT))
            await session.commit()
        need_id = (await http.post("/api/needs", json=FORM)).json()["need_id"]
        admin = Person(user_side, token(settings), ADMIN_CHAT)
        filed = await admin.receive_text("新的企业需求")  # the admins hear of a need as it is filed
        assert "&lt;汽车&gt;" in filed["message"]["text"] and "较急" in filed["message"]["text"]
        matched = await http.post(
            f"/api/admin/needs/{need_id}/match", headers=ADMIN, json={"expert_ids": ["E10"]}
        )
        assert matched.status_code == 200

        expert = Person(user_side, token(settings), EXPERT_CHAT)
        message = await expert.receive_text("企业需求")
        text = message["message"]["text"]
        assert "铜山某&lt;汽车&gt;零部件有限公司" in text and FORM["problem"] in text  # HTML mode: escaped
        accept, decline = NeedCb(accept=True, need_id=need_id), NeedCb(accept=False, need_id=need_id)
        assert [(b["text"], b["callback_data"]) for b in buttons(message)] == [
            (texts.TG_BTN_NEED_ACCEPT, accept.pack()),
            (texts.TG_BTN_NEED_DECLINE, decline.pack()),
        ]

        stranger = Person(user_side, token(settings), STRANGER_CHAT)
        await stranger.press(message, decline.pack())  # not matched to it: nothing changes
        await expert.press(message, accept.pack())

        async def answered() -> str | None:
            async with context.sessions() as session:
                mine = await session.get(NeedExpert, (need_id, "E10"))
                stray = await session.get(NeedExpert, (need_id, "E27"))
                assert stray is None
                return mine.state if mine is not None and mine.state != "asked" else None

        assert await eventually(answered, what="the expert's answer") == "accepted"
        told = await admin.receive_text("接受了企业需求")
        assert "&lt;汽车&gt;" in told["message"]["text"]

        plan = {"help_mode": "onsite", "help_at": "2026-11-12T09:30:00+08:00", "help_place": "冲压车间"}
        assert (
            await http.post(f"/api/admin/needs/{need_id}/schedule", headers=ADMIN, json=plan)
        ).status_code == 200
        scheduled = await expert.receive_text("已安排")
        assert (
            "2026-11-12 09:30" in scheduled["message"]["text"] and "冲压车间" in scheduled["message"]["text"]
        )
