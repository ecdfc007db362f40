"""Classes on a real database with a fake clock: capacity (also under concurrent sign-ups),
duplicate phones, cancelling, the steward's attendance ticks, the door code and its window, and
the recording announced once per sign-up through the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.classes import (
    DEMO_WRITTEN,
    announce_recordings,
    bring_demo_classes_forward,
    save_class,
    staff_classes,
    upcoming_classes,
)
from bot.service.clock import FakeClock
from bot.service.signups import (
    DoorCodes,
    cancel_signup,
    record_attendance,
    sign_up,
    signup_status,
)
from bot.service.validation import clean_phone
from knowledge.db import WriteGate
from knowledge.errors import (
    AccessDeniedError,
    ConflictError,
    InvalidInputError,
    KnowledgeFormatError,
    NotFoundError,
)
from knowledge.interchange import import_dir
from knowledge.models import ClassSignup, OutboxEvent, Steward, TrainingClass
from knowledge.states import EventKind
from tests.factories import expert, knowledge_folder, station, stored, write_jsonl

Sessions = async_sessionmaker[AsyncSession]
START = datetime(2027, 1, 16, 6, 0, tzinfo=UTC)  # 14:00 in Xuzhou
NO_GATE = WriteGate(None)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the sign-up race, whose SQL differs on PostgreSQL, is test_class_races.py."""
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


def course(id: str = "C01", **fields: Any) -> dict[str, Any]:
    return {
        "id": id,
        "title": "数控车床伺服报警诊断",
        "teacher_id": "E01",
        "starts_at": "2027-01-16T14:00",  # no offset: Beijing time
        "topics": ["数控车床", "伺服报警"],
        "station_id": "S01",
        "capacity": 2,
    } | fields


@pytest.fixture
async def db(sessions: Sessions, tmp_path: Path) -> Sessions:
    folder = knowledge_folder(
        tmp_path / "kb", experts=[expert("E01")], stations=[station("S01"), station("S02", region="邳州市")]
    )
    write_jsonl(
        folder / "classes.jsonl", [course(), course("C02", capacity=None, station_id="S02", region="邳州市")]
    )
    async with sessions() as session:
        await import_dir(session, folder)
    return sessions


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2027, 1, 10, 2, 0, tzinfo=UTC))


async def join(sessions: Sessions, clock: FakeClock, phone: str, class_id: str = "C01") -> tuple[str, str]:
    async with sessions() as session:
        status, token = await sign_up(session, NO_GATE, class_id, "王师傅", "徐工集团", phone, clock.now())
    return status.id, token


async def test_local_time_is_beijing_time_and_seats_are_counted(db: Sessions, clock: FakeClock):
    await join(db, clock, "138 1234 5678")
    async with db() as session:
        listed = {c.id: c for c in await upcoming_classes(session, clock.now())}
    assert listed["C01"].starts_at == START
    assert listed["C01"].teacher == "专家E01"
    assert (listed["C01"].taken, listed["C01"].seats_left) == (1, 1)
    assert listed["C02"].seats_left is None  # no limit
    async with db() as session:
        assert [c.id for c in await upcoming_classes(session, clock.now(), region="邳州市")][0] == "C02"
        assert "C01" not in [c.id for c in await upcoming_classes(session, START)]  # started


async def test_capacity_duplicates_and_cancel(db: Sessions, clock: FakeClock):
    first, token = await join(db, clock, "+86 138-1234-5678")
    assert (await stored(db, ClassSignup, first)).phone == "13812345678"
    with pytest.raises(ConflictError, match="已报名"):
        await join(db, clock, "13812345678")
    await join(db, clock, "13900000000")
    with pytest.raises(ConflictError, match="名额已满"):
        await join(db, clock, "13700000000")
    async with db() as session:
        with pytest.raises(NotFoundError):
            await cancel_signup(session, NO_GATE, first, "not-the-token", clock.now())
        cancelled = await cancel_signup(session, NO_GATE, first, token, clock.now())
    assert cancelled.cancelled_at is not None and cancelled.course.seats_left == 1
    again, new_token = await join(db, clock, "13812345678")  # the seat freed; the same row, a new link
    assert again == first
    async with db() as session:
        assert (await signup_status(session, first, new_token)).cancelled_at is None
        with pytest.raises(NotFoundError):
            await signup_status(session, first, token)  # the old link is gone


@pytest.mark.parametrize(
    ("field", "name", "enterprise", "phone"),
    [
        ("name", "  ", "徐工", "13812345678"),
        ("name", "王" * 51, "徐工", "13812345678"),
        ("enterprise", "王", "", "13812345678"),
        ("phone", "王", "徐工", "12345"),
        ("phone", "王", "徐工", "138abc45678"),
    ],
)
async def test_bad_sign_ups_name_the_field(db: Sessions, clock: FakeClock, field, name, enterprise, phone):
    async with db() as session:
        with pytest.raises(InvalidInputError, match=f"^{field}:"):
            await sign_up(session, NO_GATE, "C01", name, enterprise, phone, clock.now())


def test_phone_numbers_are_normalised():
    assert clean_phone("（0516）8588-1234") == "051685881234"
    assert clean_phone("0086 13812345678") == "13812345678"
    assert clean_phone("１３８１２３４５６７８") == "13812345678"


async def test_a_started_or_cancelled_class_takes_no_sign_up(db: Sessions, clock: FakeClock):
    clock.current = START
    with pytest.raises(ConflictError, match="已开始"):
        await join(db, clock, "13812345678")
    async with db() as session:
        await save_class(
            session, None, "C02", course("C02", station_id="S02", region="邳州市", active=False), clock.now()
        )
    with pytest.raises(NotFoundError):
        await join(db, clock, "13812345678", "C02")


async def test_attendance_ticks_set_and_clear(db: Sessions, clock: FakeClock):
    a, _ = await join(db, clock, "13800000001")
    b, b_token = await join(db, clock, "13800000002")
    async with db() as session:
        await record_attendance(session, NO_GATE, "C01", [a, b], START)
    async with db() as session:
        await record_attendance(session, NO_GATE, "C01", [a], START + timedelta(hours=1))
        with pytest.raises(InvalidInputError, match="present"):
            await record_attendance(session, NO_GATE, "C01", ["nobody"], START)
    assert (await stored(db, ClassSignup, a)).attended_at == START  # the first tick's time is kept
    assert (await stored(db, ClassSignup, b)).attended_at is None
    async with db() as session:
        await record_attendance(session, NO_GATE, "C01", [b], START)
        with pytest.raises(ConflictError, match="已签到"):
            await cancel_signup(session, NO_GATE, b, b_token, START)


async def test_the_door_code_works_only_for_its_class_within_its_window(db: Sessions, clock: FakeClock):
    signup, _ = await join(db, clock, "13800000001")
    door = DoorCodes("admin-token-" * 4)
    async with db() as session:
        c01, c02 = await _row(session, "C01"), await _row(session, "C02")
    code = door.code(c01)
    assert code != door.code(c02) and code != DoorCodes("another-secret" * 3).code(c01) and len(code) == 16
    async with db() as session:
        for now in (START - timedelta(hours=2, minutes=1), START + timedelta(hours=4, minutes=1)):
            with pytest.raises(ConflictError, match="签到时间"):
                await door.check_in(session, NO_GATE, "C01", code, "13800000001", now)
        with pytest.raises(AccessDeniedError):
            await door.check_in(session, NO_GATE, "C01", door.code(c02), "13800000001", START)
        with pytest.raises(NotFoundError, match="手机号"):
            await door.check_in(session, NO_GATE, "C01", code, "13999999999", START)
        opened = START - timedelta(hours=2)
        status = await door.check_in(session, NO_GATE, "C01", code.upper(), "138 0000 0001", opened)
    assert status.attended_at == opened == (await stored(db, ClassSignup, signup)).attended_at
    async with db() as session:  # moving the class makes a new code
        await save_class(session, None, "C01", course(starts_at="2027-01-17T14:00"), clock.now())
        assert door.code(await _row(session, "C01")) != code


async def _row(session: AsyncSession, class_id: str):  # type: ignore[no-untyped-def]
    from knowledge.models import TrainingClass

    row = await session.get(TrainingClass, class_id)
    assert row is not None
    return row


async def recording_events(sessions: Sessions) -> list[OutboxEvent]:
    async with sessions() as session:
        return list(
            (
                await session.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.kind == EventKind.CLASS_RECORDING)
                    .order_by(OutboxEvent.id)
                )
            ).all()
        )


async def test_the_recording_is_announced_once_per_sign_up_and_again_when_changed(
    db: Sessions, clock: FakeClock
):
    a, _ = await join(db, clock, "13800000001")
    b, b_token = await join(db, clock, "13800000002")
    async with db() as session:
        await cancel_signup(session, NO_GATE, b, b_token, clock.now())
    link = "https://video.example.cn/v/1"
    async with db() as session:
        saved = await save_class(session, None, "C01", course(recording_url=link), clock.now())
    assert saved.announced == 1
    events = await recording_events(db)
    assert [(e.ticket_id, e.recipient, e.payload["url"]) for e in events] == [(a, "worker", link)]
    async with db() as session:
        assert (
            await save_class(session, None, "C01", course(recording_url=link), clock.now())
        ).announced == 0
        assert await announce_recordings(session, clock.now()) == 0  # an import of the same link
        changed = await save_class(session, None, "C01", course(recording_url=link + "b"), clock.now())
    assert changed.announced == 1 and len(await recording_events(db)) == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"recording_url": "javascript:alert(1)"}, "recording_url"),
        ({"online_url": "ftp://x.example/a"}, "online_url"),
        ({"capacity": 0}, "capacity"),
        ({"starts_at": "2027-01-16"}, "starts_at"),
        ({"teacher_id": "E99"}, "teacher_id"),
        ({"title": ""}, "title"),
    ],
)
async def test_bad_class_edits_are_refused_and_name_the_field(db: Sessions, clock: FakeClock, fields, field):
    async with db() as session:
        with pytest.raises(KnowledgeFormatError) as caught:
            await save_class(session, None, "C01", course(**fields), clock.now())
    assert [p.field for p in caught.value.problems] == [field]


async def test_a_steward_edits_only_classes_of_their_scope(db: Sessions, clock: FakeClock):
    steward = Steward(id="w", name="王管家", station_ids=["S01"], regions=[], active=True)
    async with db() as session:
        assert [c.id for c in await staff_classes(session, steward)] == ["C01"]
        assert len(await staff_classes(session, None)) == 2
        await save_class(session, steward, "C01", course(title="改过的标题"), clock.now())
        with pytest.raises(AccessDeniedError):
            await save_class(
                session, steward, "C02", course("C02", station_id="S02", region="邳州市"), clock.now()
            )
        with pytest.raises(AccessDeniedError):  # moving one's class out of one's scope
            await save_class(session, steward, "C01", course(station_id="S02"), clock.now())
        with pytest.raises(AccessDeniedError):  # a new class outside it
            await save_class(
                session, steward, "C09", course("C09", station_id=None, region="邳州市"), clock.now()
            )


async def test_the_demo_classes_are_brought_forward_by_whole_weeks(db: Sessions):
    """A demo imported later keeps classes ahead of it, on the same weekday and hour."""
    async with db() as session:
        assert await bring_demo_classes_forward(session, DEMO_WRITTEN + timedelta(days=6)) == timedelta(0)
        assert await bring_demo_classes_forward(session, DEMO_WRITTEN + timedelta(days=15)) == timedelta(
            weeks=2
        )
    moved = await stored(db, TrainingClass, "C01")
    assert moved.starts_at == START + timedelta(weeks=2)
