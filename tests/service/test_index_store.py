"""The index of instances that share no disk (``CRAFTDESK_INDEX_STORE=database``): two or three
instances, each an ``AppContext`` (or a bare ``IndexStore``) with its own data dir, one real
PostgreSQL. The demo index is stored once as the first version, so no instance rebuilds at start;
one test rebuilds (the expensive part, seconds)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from bot.app import create_app
from bot.context import AppContext, open_context
from bot.service.clock import FakeClock, SystemClock
from bot.service.index_store import IndexStore, changed_besides_new_cases
from bot.service.leases import Lease
from bot.settings import Settings
from knowledge.models import Case, IndexVersion, Ticket
from knowledge.states import TicketStatus
from retrieval.corpus import Corpus
from retrieval.holder import IndexHolder
from retrieval.index import load_index
from tests.utils.auth import ADMIN
from tests.utils.demo import DEMO_CASES
from tests.utils.index_versions import store_index_version
from tests.utils.postgres import create_database
from tests.utils.wait import eventually

SLOW_POLL = 60.0  # longer than any wait below: only a notification can bring a version in time


@pytest.fixture
async def db_url(request: pytest.FixtureRequest) -> str:
    base = request.getfixturevalue("postgres_base_url")
    return await create_database(base, f"t_{uuid.uuid4().hex[:12]}")


def instance(settings: Settings, name: str, **changes: object) -> Settings:
    """One instance's settings: its own data dir and id, the shared database."""
    return settings.model_copy(
        update={
            "data_dir": settings.data_dir.parent / name,
            "instance_id": name,
            "index_store": "database",
            "import_demo_when_empty": True,
            "index_poll_seconds": SLOW_POLL,
            **changes,
        }
    )


@pytest.fixture
async def stored_demo(settings: Settings, demo_index_dir: Path) -> str:
    """The demo index stored as the only version, as an earlier instance would have left it."""
    return await store_index_version(settings, demo_index_dir)


@contextlib.asynccontextmanager
async def instances(
    settings: Settings, encoder, *names: str, **changes: object
) -> AsyncIterator[list[AppContext]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                open_context(instance(settings, name, **changes), encoder=encoder)
            )
            for name in names
        ]


async def answered_ticket(context: AppContext) -> str:
    now = datetime.now(UTC)
    ticket_id = uuid.uuid4().hex
    async with context.sessions() as session:
        session.add(
            Ticket(
                id=ticket_id,
                token_hash="0" * 64,
                text="问题",
                status=TicketStatus.ANSWERED,
                created_at=now,
                first_answer_at=now,
            )
        )
        await session.commit()
    return ticket_id


async def publish(context: AppContext, title: str, question: str, answer: str) -> str:
    """An answered ticket published as a case on ``context``'s instance; the case id."""
    ticket_id = await answered_ticket(context)
    async with context.sessions() as session:
        case = await context.publisher.publish(session, ticket_id, title, question, answer)
    return case.id


def serves(context: AppContext, *case_ids: str) -> bool:
    current = context.index.current
    return current is not None and all(case_id in current.case_position for case_id in case_ids)


async def newest_stored(context: AppContext) -> IndexVersion:
    async with context.sessions() as session:
        row = await session.scalar(select(IndexVersion).order_by(IndexVersion.created_at.desc()).limit(1))
    assert row is not None
    return row


def client_for(context: AppContext) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(context.settings, context))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.mark.postgres
async def test_instances_start_from_the_stored_version_and_a_publish_reaches_the_others(
    settings: Settings, encoder, stored_demo: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    async with instances(settings, encoder, "a", "b") as (a, b):
        # fresh data dirs: the stored version is fetched and unpacked, nothing is rebuilt
        assert a.index.current.version == b.index.current.version == stored_demo
        assert (b.settings.index_dir / "versions" / stored_demo / "cases.faiss").is_file()
        assert "index rebuild started" not in caplog.text

        case_id = await publish(
            a,
            "注塑机开模异响（顶针板导柱缺润滑）",
            "注塑机开模时模具咔咔异响，顶针板动作发卡",
            "检查顶针板导柱润滑，查顶出行程和复位弹簧，导柱磨损则更换。",
        )
        assert serves(a, case_id) and a.index.current.version == (await newest_stored(a)).version

        async def b_serves_it() -> bool:
            return serves(b, case_id)

        # B polls once a minute: the NOTIFY brings the version
        await eventually(b_serves_it, timeout=20, what="B serving the case published on A")
        async with client_for(b) as client:
            asked = (await client.post("/api/ask", json={"text": "注塑机开模咔咔响 顶针板发卡咋办"})).json()
        assert asked["suggestions"][0]["case_id"] == case_id
        assert asked["index_version"] == a.index.current.version

        # C: a fresh data dir, no LISTEN (dsn None): it takes the newest version, then polls
        holder = IndexHolder(tmp_path / "c" / "index", encoder.model_id)
        c = IndexStore(a.sessions, holder, encoder, "c", SystemClock())
        await c.prepare(poll=0.2)
        assert holder.current.version == a.index.current.version and holder.current.cases[-1].id == case_id
        follower = asyncio.create_task(c.follow(poll=0.2))
        try:
            second = await publish(
                b, "切割机导轨爬行", "数控切割机横梁导轨低速爬行抖动", "清洗导轨，调整镶条间隙。"
            )

            async def c_serves_it() -> bool:
                return holder.current is not None and second in holder.current.case_position

            await eventually(c_serves_it, timeout=20, what="C, polling, serving the case published on B")
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
    assert "index rebuild started" not in caplog.text


@pytest.mark.postgres
async def test_two_publishes_at_the_same_moment_on_two_instances_both_survive(
    settings: Settings, encoder, stored_demo: str
):
    async with instances(settings, encoder, "a", "b", index_keep_versions=2) as (a, b):
        first, second = await asyncio.gather(
            publish(a, "空压机排气温度高", "螺杆空压机排气温度报警停机", "清洗冷却器，检查油位和温控阀。"),
            publish(b, "叉车门架抖动", "电动叉车起升时门架抖动异响", "调整门架滚轮间隙，润滑链条。"),
        )
        newest = await newest_stored(a)
        assert newest.manifest["cases"] == DEMO_CASES + 2

        async def both_serve_both() -> bool:
            return all(c.index.current.version == newest.version and serves(c, first, second) for c in (a, b))

        await eventually(
            both_serve_both, timeout=20, what="A and B serving the newest version with both cases"
        )
        # the demo's version, one or two of the publishes (the first writer may have added
        # both cases) and one more: the newest two are kept
        await publish(a, "行车制动溜车", "桥式起重机停车后溜钩", "调整制动器间隙，更换制动瓦。")
        kept = await a.index_store.versions()
        assert len(kept) == 2 and kept[0] == (await newest_stored(a)).version
        assert newest.version in kept and stored_demo not in kept


@pytest.mark.postgres
async def test_a_rebuild_keeps_a_case_published_meanwhile_and_runs_once_in_the_deployment(
    settings: Settings, encoder, stored_demo: str
):
    async with instances(settings, encoder, "a", "b") as (a, b):
        # an index write of a third party holds the lease: the rebuild on A and the publish on B
        # both finish their own work, then wait for it, the case committed before either writes
        blocker = Lease(a.sessions, "index", "elsewhere", timedelta(minutes=5), SystemClock())
        assert await blocker.acquire_or_renew()
        started = await a.reindexer.start()
        assert (started.state, started.instance) == ("running", "a")

        async with client_for(b) as client:
            asked = await client.post("/api/admin/reindex", headers=ADMIN)
            status = (await client.get("/api/admin/reindex", headers=ADMIN)).json()
        assert asked.status_code == 202
        for state in (asked.json(), status):
            assert (state["state"], state["instance"]) == ("running", "a") and state["started_at"]
        assert b.reindexer.state.state == "idle"  # reported, not started

        publishing = asyncio.create_task(
            publish(b, "焊机送丝不畅", "二保焊机送丝时快时慢，焊丝打卷", "更换送丝管，调整压丝轮压力。")
        )

        async def committed() -> str | None:
            async with b.sessions() as session:
                return await session.scalar(select(Case.id).where(Case.title == "焊机送丝不畅"))

        case_id = str(await eventually(committed, timeout=20, what="the published case committed"))

        async def encoded() -> bool:
            return a.reindexer.state.total > 0 and a.reindexer.state.done == a.reindexer.state.total

        await eventually(encoded, timeout=60, what="the rebuild done encoding")
        await blocker.release()
        await publishing
        done = await a.reindexer.wait()
        assert done.state == "done", done.error

        newest = await newest_stored(a)
        assert newest.manifest["cases"] == DEMO_CASES + 1

        async def both_serve_it() -> bool:
            return all(c.index.current.version == newest.version and serves(c, case_id) for c in (a, b))

        await eventually(both_serve_it, timeout=20, what="A and B serving the final version with the case")
        # the rebuild lease was let go; B, asked during A's rebuild, found A's version up to date
        assert (await b.reindexer.wait()).state == "idle"
        assert (await b.reindexer.status()).state == "idle"


@pytest.mark.postgres
async def test_a_lease_says_since_when_its_holder_has_it(sessions):
    """What a second reindex reports as ``started_at``: kept by renewals, new at each take."""
    clock = FakeClock()
    a, b = (Lease(sessions, "rebuild", name, timedelta(seconds=90), clock) for name in ("a", "b"))
    assert await a.acquire_or_renew()
    taken = clock.now()
    clock.advance(seconds=30)
    assert await a.acquire_or_renew()
    row = await b.holding_row()
    assert row is not None and (row.holder, row.taken_at) == ("a", taken)
    await a.release()
    assert await b.holding_row() is None
    clock.advance(seconds=1)
    assert await a.acquire_or_renew()  # the same holder again, after a release: a new take
    row = await b.holding_row()
    assert row is not None and row.taken_at == clock.now()


async def test_a_rebuild_starts_over_for_changes_other_than_new_cases(encoder, demo_index_dir: Path):
    index = load_index(demo_index_dir, encoder.model_id)
    same = Corpus(cases=list(index.cases), experts=list(index.experts))
    assert not changed_besides_new_cases(index, same)
    new_case = index.cases[0].__class__(**{**index.cases[0].__dict__, "id": "NEW"})
    assert not changed_besides_new_cases(index, Corpus([*same.cases, new_case], same.experts))
    edited = index.cases[0].__class__(**{**index.cases[0].__dict__, "answer": "改过的答案"})
    assert changed_besides_new_cases(index, Corpus([edited, *same.cases[1:]], same.experts))
    assert changed_besides_new_cases(index, Corpus(same.cases[1:], same.experts))  # one deleted
    assert changed_besides_new_cases(index, Corpus(same.cases, same.experts[1:]))


@pytest.mark.parametrize("store", ["index_store", "photo_store"])
def test_the_database_stores_need_postgresql(tmp_path: Path, store: str):
    with pytest.raises(ValidationError, match=f"{store}=database keeps it in PostgreSQL"):
        Settings(data_dir=tmp_path, database_url=None, **{store: "database"})
    assert getattr(Settings(data_dir=tmp_path, database_url=None), store) == "disk"
