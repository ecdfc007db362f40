"""Needs lists in the service layer: the form's checks, the way submitted -> matched -> scheduled
-> done (or withdrawn), what each step tells whom through the outbox, the filer's token, and
changes made on a stale read failing instead of overwriting."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from bot.service.clock import FakeClock
from bot.service.need_demo import import_demo_needs
from bot.service.need_form import NeedForm
from bot.service.needs import NeedsService, in_scope, matches_of, needs_in_scope, needs_of_expert
from bot.service.photo_store import DiskPhotos
from bot.service.validation import clean_phone
from knowledge.errors import ConflictError, InvalidInputError, NotFoundError
from knowledge.interchange import import_dir
from knowledge.models import Need, OutboxEvent, Steward
from knowledge.states import EventKind, MatchState, NeedStatus, Subject, subject_of
from tests.conftest import DEMO_DIR
from tests.factories import expert, knowledge_folder, png_bytes, station

WHEN = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite: nothing here is SQL that differs between the databases."""
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


@pytest.fixture
async def kb(sessions, tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = knowledge_folder(
        tmp_path / "kb",
        experts=[expert("E01"), expert("E02"), expert("E03", active=False)],
        stations=[station("S01", region="铜山区"), station("S02", region="邳州市")],
    )
    async with sessions() as session:
        await import_dir(session, folder)
    return sessions


@pytest.fixture
def needs(tmp_path: Path) -> NeedsService:
    return NeedsService(FakeClock(), DiskPhotos(tmp_path / "uploads"))


def form(**fields) -> NeedForm:  # type: ignore[no-untyped-def]
    base = {
        "station_id": "S01",
        "enterprise": "铜山某机械厂",
        "contact_name": "刘主席",
        "contact_phone": "+86 138-0516-0001",
        "problem": "液压站油温高，夏天一过六十度就停机",
        "help_wanted": ["onsite", "online", "onsite"],
        "industry": "工程机械与智能制造",
        "urgency": "urgent",
        "workers_affected": 40,
    }
    return NeedForm(**(base | fields))


async def events(kb, need_id: str) -> list[tuple[str, str, dict]]:  # type: ignore[no-untyped-def]
    async with kb() as session:
        rows = (await session.scalars(select(OutboxEvent).where(OutboxEvent.ticket_id == need_id))).all()
    return [(e.kind, e.recipient, e.payload) for e in sorted(rows, key=lambda e: e.id)]


async def test_the_form_is_cleaned_and_a_bad_field_is_refused_by_name(kb, needs):
    async with kb() as session:
        filed = await needs.file(session, form())
    need = filed.need
    assert (need.contact_phone, need.help_wanted, need.region) == (
        "13805160001",
        ["online", "onsite"],
        "铜山区",
    )
    assert need.token_hash != filed.token and len(filed.token) > 30
    bad = {
        "contact_phone": ("12ab", "contact_phone"),
        "help_wanted": ([], "help_wanted"),
        "urgency": ("whenever", "urgency"),
        "workers_affected": (100_001, "workers_affected"),
        "station_id": ("S99", "station_id"),
        "problem": ("   ", "problem"),
        "enterprise": ("x" * 201, "enterprise"),
    }
    for field, (value, named) in bad.items():
        async with kb() as session:
            with pytest.raises(InvalidInputError, match=f"^{named}:"):
                await needs.file(session, form(**{field: value}))
    async with kb() as session:
        assert len((await session.scalars(select(Need))).all()) == 1  # nothing half-saved
    assert clean_phone("0516-8388 1234") == "051683881234" and clean_phone("008613805160001") == "13805160001"


async def test_a_need_goes_from_matched_to_done_and_tells_each_side(kb, needs):
    async with kb() as session:
        need_id = (await needs.file(session, form())).need.id
    async with kb() as session:
        with pytest.raises(InvalidInputError, match="expert_ids: not active"):
            await needs.match(session, need_id, ["E03"])
        with pytest.raises(ConflictError, match="only a matched need"):
            await needs.schedule(session, need_id, "onsite", WHEN, "一车间")
        need = await needs.match(session, need_id, ["E01", "E02"])
        assert (need.status, need.version) == (NeedStatus.MATCHED, 2)
        with pytest.raises(ConflictError, match="already matched"):
            await needs.match(session, need_id, ["E01"])
        with pytest.raises(ConflictError, match="no matched expert has accepted"):
            await needs.schedule(session, need_id, "onsite", WHEN, "一车间")
        await needs.respond(session, need_id, "E01", accept=True)
        await needs.respond(session, need_id, "E01", accept=True)  # the button pressed twice
        await needs.respond(session, need_id, "E02", accept=False)
        with pytest.raises(ConflictError, match="already declined"):
            await needs.respond(session, need_id, "E02", accept=True)
        with pytest.raises(NotFoundError):
            await needs.respond(session, need_id, "E03", accept=True)
        with pytest.raises(InvalidInputError, match="help_place"):
            await needs.schedule(session, need_id, "onsite", WHEN, " ")
        with pytest.raises(ConflictError, match="only scheduled help"):
            await needs.done(session, need_id, "solved_onsite", "换了冷却器", 38)
        need = await needs.schedule(session, need_id, "onsite", WHEN, "一车间液压站")
        assert (need.status, need.help_at, need.help_place) == (NeedStatus.SCHEDULED, WHEN, "一车间液压站")
        with pytest.raises(InvalidInputError, match="workers_helped"):
            await needs.done(session, need_id, "solved_onsite", "换了冷却器", -1)
        need = await needs.done(session, need_id, "solved_onsite", "换了冷却器", 38)
        assert (need.status, need.outcome, need.workers_helped) == (NeedStatus.DONE, "solved_onsite", 38)
        with pytest.raises(ConflictError, match="already done"):
            await needs.withdraw(session, need_id)
        states = {m.expert_id: m.state for m, _ in await matches_of(session, need_id)}
    assert states == {"E01": MatchState.ACCEPTED, "E02": MatchState.DECLINED}
    sent = [(kind, to, payload.get("change")) for kind, to, payload in await events(kb, need_id)]
    assert sent == [
        (EventKind.NEED_FILED, "admin", None),  # for the stewards and admins to match
        (EventKind.NEED_MATCHED, "expert:E01", None),
        (EventKind.NEED_MATCHED, "expert:E02", None),
        (EventKind.NEED_CHANGED, "admin", "accepted"),
        (EventKind.NEED_CHANGED, "admin", "declined"),
        (EventKind.NEED_SCHEDULED, "expert:E01", None),  # not to the expert who declined
        (EventKind.NEED_CHANGED, "expert:E01", "done"),
    ]
    assert all(subject_of(kind) == Subject.NEED for kind, _, _ in sent)
    filed, matched = [payload for _, _, payload in (await events(kb, need_id))[:2]]
    assert filed["station"] and filed["enterprise"] == "铜山某机械厂"
    assert matched["enterprise"] == "铜山某机械厂" and matched["problem"].startswith("液压站油温高")


async def test_the_filer_sees_it_by_token_adds_photos_and_withdraws_it(kb, needs):
    async with kb() as session:
        filed = await needs.file(session, form())
        need_id = filed.need.id
        with pytest.raises(NotFoundError):
            await needs.for_filer(session, need_id, "not-the-token")
        need = await needs.for_filer(session, need_id, filed.token)
        for _ in range(4):
            await needs.add_photo(session, need, png_bytes())
        with pytest.raises(InvalidInputError, match="at most 4 photos"):
            await needs.add_photo(session, need, png_bytes())
        await needs.match(session, need_id, ["E01"])
        withdrawn = await needs.withdraw(session, need_id)
        assert withdrawn.status == NeedStatus.WITHDRAWN and withdrawn.closed_at is not None
        assert len(withdrawn.photos) == 4
        assert all([await needs.photo(need_id, name) for name in withdrawn.photos])
        with pytest.raises(ConflictError, match="no more experts"):
            await needs.match(session, need_id, ["E02"])
        with pytest.raises(ConflictError, match="nothing to answer"):
            await needs.respond(session, need_id, "E01", accept=True)
    assert [(k, to, p.get("change")) for k, to, p in await events(kb, need_id)] == [
        (EventKind.NEED_FILED, "admin", None),
        (EventKind.NEED_MATCHED, "expert:E01", None),
        (EventKind.NEED_CHANGED, "expert:E01", "withdrawn"),
    ]


async def test_a_change_made_on_a_stale_read_fails_instead_of_overwriting(kb, needs):
    async with kb() as session:
        need_id = (await needs.file(session, form())).need.id
    async with kb() as stale, kb() as other:
        read = await stale.get(Need, need_id)
        assert read is not None
        await needs.match(other, need_id, ["E01"])
        read.status = NeedStatus.WITHDRAWN
        with pytest.raises(StaleDataError):
            await stale.commit()
    async with kb() as session:
        assert (await session.get(Need, need_id)).status == NeedStatus.MATCHED  # type: ignore[union-attr]


async def test_a_steward_sees_the_needs_of_their_stations_and_regions(kb, needs):
    async with kb() as session:
        here = (await needs.file(session, form())).need
        there = (await needs.file(session, form(station_id="S02", region="睢宁县"))).need
        await needs.match(session, there.id, ["E01"])
        by_station = Steward(id="w", name="王", station_ids=["S01"], regions=[], created_at=WHEN)
        by_region = Steward(id="l", name="李", station_ids=[], regions=["睢宁县"], created_at=WHEN)
        assert [n.id for n in await needs_in_scope(session, by_station)] == [here.id]
        assert [n.id for n in await needs_in_scope(session, by_region)] == [there.id]
        assert {n.id for n in await needs_in_scope(session, None)} == {here.id, there.id}
        assert in_scope(here, by_station) and not in_scope(here, by_region) and in_scope(here, None)
        assert [(n.id, m.state) for n, m in await needs_of_expert(session, "E01")] == [(there.id, "asked")]


async def test_the_demo_needs_load_in_every_state(sessions):
    async with sessions() as session:
        await import_dir(session, DEMO_DIR)
        assert await import_demo_needs(session, DEMO_DIR, WHEN) == 5
        statuses = sorted((await session.scalars(select(Need.status))).all())
        done = await session.get(Need, "demo-need-01")
    assert statuses == ["done", "done", "matched", "scheduled", "submitted"]
    assert done is not None and done.outcome == "solved_onsite" and done.workers_helped == 58
