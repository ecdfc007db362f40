"""The classes API over the real app on the demo knowledge (SQLite): the public catalogue,
sign-ups with their private link, the door, and /admin by role (anonymous, a steward in and out
of scope, the administrator); a related class next to an answer, and the Telegram notice of a
recording to a sign-up made there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.service.classes import DEMO_WRITTEN
from knowledge.models import ClassSignup, OutboxEvent, Station
from knowledge.states import EventKind
from tests.utils.auth import ADMIN

PHONE = "138 0516 0001"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


@pytest.fixture
async def steward(client, context) -> dict[str, str]:
    """Steward wang looks after the 邳州 station (st-pizhou: the demo's C03 and C06)."""
    async with context.sessions() as session:
        assert await session.get(Station, "st-pizhou") is not None
    body = {"name": "王管家", "station_ids": ["st-pizhou"]}
    assert (await client.put("/api/admin/stewards/wang", headers=ADMIN, json=body)).status_code == 201
    token = (await client.post("/api/admin/stewards/wang/token", headers=ADMIN)).json()["token"]
    return {"Authorization": f"Bearer {token}"}


async def sign(client, class_id: str = "C01", phone: str = PHONE):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/classes/{class_id}/signups", json={"name": "王师傅", "enterprise": "徐工集团", "phone": phone}
    )


def demo_shift() -> timedelta:
    """How far the demo import moved the demo's classes (whole weeks since they were written)."""
    return timedelta(weeks=max(0, (datetime.now(UTC) - DEMO_WRITTEN).days // 7))


async def test_the_catalogue_sign_up_link_and_cancel(client):
    listed = (await client.get("/api/classes", params={"site": "pz-motor-1"})).json()
    assert listed[0]["region"] == "邳州市"  # the site's region first
    ids = [c["class_id"] for c in listed]
    assert set(ids) == {"C01", "C02", "C03", "C04", "C05"}  # C06 is over
    assert "online_url" not in listed[0]  # for those who signed up
    made = await sign(client)
    assert made.status_code == 201
    body = made.json()
    assert body["url"] == f"/classes/signup/{body['signup_id']}#token={body['token']}"
    assert body["course"]["seats_left"] == 29
    assert (await sign(client, phone="+86 13805160001")).json()["detail"] == "已报名"
    path = f"/api/signups/{body['signup_id']}"
    assert (await client.get(path)).status_code == 404
    assert (await client.get(path, headers={"X-Signup-Token": "wrong"})).status_code == 404
    mine = {"X-Signup-Token": body["token"]}
    assert (await client.get(path, headers=mine)).json()["cancelled_at"] is None
    cancelled = (await client.delete(path, headers=mine)).json()
    assert cancelled["cancelled_at"] and cancelled["course"]["seats_left"] == 30


async def test_a_full_class_and_bad_input(client):
    put = await client.put(
        "/api/admin/classes/C02", headers=ADMIN, json=await _record(client, "C02") | {"capacity": 1}
    )
    assert put.status_code == 200
    assert (await sign(client, "C02")).status_code == 201
    full = await sign(client, "C02", "13900000000")
    assert (full.status_code, full.json()["detail"]) == (409, "名额已满")
    bad = await client.post(
        "/api/classes/C01/signups", json={"name": "王", "enterprise": "徐工", "phone": "12"}
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith("phone:")
    assert (await sign(client, "C99")).status_code == 404


async def _record(client, class_id: str) -> dict:  # type: ignore[type-arg]
    return (await client.get(f"/api/admin/classes/{class_id}", headers=ADMIN)).json()


async def test_roles_on_the_admin_routes(client, steward):
    assert (await client.get("/api/admin/classes")).status_code == 401
    assert (
        await client.get("/api/admin/classes", headers={"Authorization": "Bearer nope"})
    ).status_code == 401
    everyone = [c["class_id"] for c in (await client.get("/api/admin/classes", headers=ADMIN)).json()]
    assert sorted(everyone) == ["C01", "C02", "C03", "C04", "C05", "C06"]
    mine = [c["class_id"] for c in (await client.get("/api/admin/classes", headers=steward)).json()]
    assert sorted(mine) == ["C03", "C06"]
    record = await _record(client, "C03")
    written = datetime.fromisoformat("2027-01-23T19:30:00+08:00")  # as knowledge/demo/classes.jsonl has it
    assert datetime.fromisoformat(record["starts_at"]) == written + demo_shift()
    assert (
        await client.put("/api/admin/classes/C03", headers=steward, json=record | {"title": "新标题"})
    ).status_code == 200
    for method, path in [
        ("GET", "/api/admin/classes/C01"),
        ("GET", "/api/admin/classes/C01/signups"),
        ("GET", "/api/admin/classes/C01/door.png"),
    ]:
        assert (await client.request(method, path, headers=steward)).status_code == 403, path
    other = await client.post("/api/admin/classes/C01/attendance", headers=steward, json={"present": []})
    assert other.status_code == 403
    outside = await client.put("/api/admin/classes/C01", headers=steward, json=await _record(client, "C01"))
    assert outside.status_code == 403
    moved = await client.put(
        "/api/admin/classes/C03", headers=steward, json=record | {"station_id": "st-urban"}
    )
    assert moved.status_code == 403
    created = await client.put(
        "/api/admin/classes/C10",
        headers=steward,
        json={"title": "电机维修", "starts_at": "2027-02-01T09:00", "station_id": "st-pizhou"},
    )
    assert created.status_code == 201
    evil = await client.put(
        "/api/admin/classes/C10",
        headers=ADMIN,
        json=record | {"id": "C10", "recording_url": "javascript:alert(1)"},
    )
    assert evil.status_code == 422 and "recording_url" in evil.json()["detail"]


async def test_attendance_the_door_and_the_recording(client, context):
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    record = await _record(client, "C01") | {"starts_at": soon}
    assert (await client.put("/api/admin/classes/C01", headers=ADMIN, json=record)).status_code == 200
    first = (await sign(client)).json()
    second = (await sign(client, phone="13900000002")).json()
    ticked = await client.post(
        "/api/admin/classes/C01/attendance", headers=ADMIN, json={"present": [first["signup_id"]]}
    )
    assert [bool(s["attended_at"]) for s in ticked.json()] == [True, False]
    png = await client.get("/api/admin/classes/C01/door.png", headers=ADMIN)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    async with context.sessions() as session:
        from knowledge.models import TrainingClass

        code = context.door.code(await session.get(TrainingClass, "C01"))
    wrong = await client.post("/api/classes/C01/door", json={"code": "a" * 16, "phone": "13900000002"})
    assert wrong.status_code == 403
    door = await client.post("/api/classes/C01/door", json={"code": code, "phone": "13900000002"})
    assert door.status_code == 200 and door.json()["title"] == record["title"]
    page = await client.get(f"/k/C01?door={code}")
    assert page.status_code == 200 and "课程签到" in page.text
    async with context.sessions() as session:  # a sign-up made in Telegram (kept for later)
        await session.execute(
            update(ClassSignup).where(ClassSignup.id == second["signup_id"]).values(telegram_chat_id=5550001)
        )
        await session.commit()
    link = "https://video.example.cn/v/c01"
    saved = await client.put("/api/admin/classes/C01", headers=ADMIN, json=record | {"recording_url": link})
    assert saved.json() == {"outcome": "updated", "announced": 2}
    status = (
        await client.get(f"/api/signups/{first['signup_id']}", headers={"X-Signup-Token": first["token"]})
    ).json()
    assert status["recording_url"] == link and status["attended_at"]
    async with context.sessions() as session:
        events = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.kind == EventKind.CLASS_RECORDING))
        ).all()
    assert {(e.ticket_id, e.payload["chat_id"]) for e in events} == {
        (first["signup_id"], None),
        (second["signup_id"], 5550001),
    }


async def test_a_question_on_a_class_topic_shows_it_as_related(client):
    body = (
        await client.post("/api/ask", json={"text": "点焊凿检一凿就开 是不是虚焊", "site": "ts-auto-weld"})
    ).json()
    assert [c["class_id"] for c in body["classes"]] == ["C02"]
    related = body["classes"][0]
    assert related["url"] == "/classes?class=C02&site=ts-auto-weld" and related["kind"] == "open"
    off = (await client.post("/api/ask", json={"text": "食堂今天中午几点开饭啊"})).json()
    assert off["classes"] == []
    other = (await client.post("/api/ask", json={"text": "挖机所有动作都慢，挖土没劲"})).json()
    assert other["classes"] == []
