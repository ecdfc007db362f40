"""The live ticket feed on SQLite: the commit hook wakes the streams that follow a ticket or an
expert's queue, the keep-alive, the end of a stream, the re-read that catches a change made
elsewhere; and, on PostgreSQL, the NOTIFY path across two instances."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.context import open_context
from bot.service.ticket_events import StreamTiming, TicketFeed, expert_queue, one_ticket
from bot.service.tickets import TicketService
from bot.settings import Settings
from knowledge.db import make_engine, make_sessionmaker
from knowledge.models import Question, Ticket
from tests.utils.postgres import create_database

Sessions = async_sessionmaker[AsyncSession]
Stream = AsyncGenerator[frozenset[str] | None, None]
QUIET = StreamTiming(keepalive=60, lifetime=60, recheck=60)  # only a wake brings a change in time
EXPERT, SITE = "E01", "xcmg-hv-3"  # of the demo knowledge
SOON = 2.0  # seconds: a woken stream answers in milliseconds, this is for a loaded machine


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


@pytest.fixture
async def feed(kb: Sessions) -> AsyncIterator[TicketFeed]:
    feed = TicketFeed(kb)
    await feed.start(kb.kw["bind"])
    yield feed
    await feed.close()


async def opened(sessions: Sessions, service: TicketService, ranked: list[str]) -> str:
    qid = uuid.uuid4().hex
    async with sessions() as session:
        session.add(
            Question(id=qid, text="挖掘机动臂下沉", site_code="xcmg-3", decision="route", expert_ids=ranked)
        )
        await session.commit()
        return (await service.open_for_question(session, qid)).ticket.id


async def next_of(stream: Stream, timeout: float = SOON) -> frozenset[str] | None:
    return await asyncio.wait_for(anext(stream), timeout)


async def test_a_commit_wakes_the_tickets_stream(kb: Sessions, service: TicketService, feed: TicketFeed):
    tid = await opened(kb, service, ["E01"])
    stream = feed.follow(one_ticket(tid), QUIET)
    assert await next_of(stream) == {tid}  # the state at the start
    assert feed.streams == 1
    async with kb() as session:
        await service.claim(session, tid, "E01")  # a claim notifies nobody through the outbox
    assert await next_of(stream) == {tid}
    async with kb() as session:
        await service.answer(session, tid, "E01", "检查动臂油缸内泄")
    assert await next_of(stream) == {tid}
    await stream.aclose()
    assert feed.streams == 0


async def test_the_experts_queue_hears_a_new_ticket_and_one_passed_on(
    kb: Sessions, service: TicketService, feed: TicketFeed
):
    first = feed.follow(expert_queue(service, "E01"), QUIET)
    second = feed.follow(expert_queue(service, "E02"), QUIET)
    assert await next_of(first) == frozenset() and await next_of(second) == frozenset()
    tid = await opened(kb, service, ["E01", "E02"])
    assert await next_of(first) == {tid}
    async with kb() as session:
        await service.decline(session, tid, "E01")  # passed on to E02: leaves one queue, enters the other
    assert await next_of(first) == {tid}
    assert await next_of(second) == {tid}
    for stream in (first, second):
        await stream.aclose()


async def test_keepalive_end_and_close(kb: Sessions, service: TicketService, feed: TicketFeed):
    tid = await opened(kb, service, ["E01"])
    beating = feed.follow(one_ticket(tid), StreamTiming(keepalive=0.05, lifetime=60, recheck=60))
    assert await next_of(beating) == {tid}
    assert await next_of(beating) is None  # nothing changed for keepalive seconds
    ending = feed.follow(one_ticket(tid), StreamTiming(keepalive=60, lifetime=0.1, recheck=60))
    assert [item async for item in ending] == [{tid}]  # ends by itself
    await feed.close()
    with pytest.raises(StopAsyncIteration):  # the feed closing ends the open stream
        await next_of(beating)
    assert feed.streams == 0


async def test_the_recheck_sees_a_change_made_elsewhere(
    kb: Sessions, service: TicketService, feed: TicketFeed
):
    tid = await opened(kb, service, ["E01"])
    stream = feed.follow(one_ticket(tid), StreamTiming(keepalive=60, lifetime=60, recheck=0.1))
    assert await next_of(stream) == {tid}
    other = make_engine(str(kb.kw["bind"].url))  # another process, as far as the hook knows
    try:
        async with make_sessionmaker(other)() as session:
            await session.execute(update(Ticket).where(Ticket.id == tid).values(version=Ticket.version + 1))
            await session.commit()
    finally:
        await other.dispose()
    assert await next_of(stream) == {tid}
    await stream.aclose()


@pytest.mark.postgres
async def test_a_change_on_one_instance_reaches_the_streams_of_another(
    settings: Settings, postgres_base_url: str, encoder, demo_index_dir: Path
):
    """Two app contexts on one PostgreSQL: the NOTIFY sent with the commit on one wakes the
    other's streams (their re-read is a minute away)."""
    database_url = await create_database(postgres_base_url, f"t_{uuid.uuid4().hex[:12]}")
    async with contextlib.AsyncExitStack() as stack:
        one, other = [
            await stack.enter_async_context(
                open_context(instance(settings, database_url, name, demo_index_dir), encoder=encoder)
            )
            for name in ("one", "other")
        ]
        assert one.ticket_feed is not None and other.ticket_feed is not None
        qid = uuid.uuid4().hex
        async with other.sessions() as session:
            session.add(
                Question(
                    id=qid,
                    text="挖掘机动臂下沉",
                    site_code=SITE,
                    decision="route",
                    expert_ids=[EXPERT],
                )
            )
            await session.commit()
        queue = one.ticket_feed.follow(expert_queue(one.tickets, EXPERT), QUIET)
        assert await next_of(queue) == frozenset()
        async with other.sessions() as session:
            tid = (await other.tickets.open_for_question(session, qid)).ticket.id
        assert await next_of(queue) == {tid}
        stream = one.ticket_feed.follow(one_ticket(tid), QUIET)
        assert await next_of(stream) == {tid}
        async with other.sessions() as session:
            await other.tickets.answer(session, tid, EXPERT, "检查动臂油缸内泄")
        assert await next_of(stream) == {tid}
        for open_stream in (queue, stream):
            await open_stream.aclose()


def instance(settings: Settings, database_url: str, name: str, demo_index_dir: Path) -> Settings:
    """One instance: its own data dir (the demo index copied in), the shared database."""
    changed = settings.model_copy(
        update={
            "data_dir": settings.data_dir.parent / name,
            "instance_id": name,
            "database_url": database_url,
            "import_demo_when_empty": True,
        }
    )
    shutil.copytree(demo_index_dir, changed.index_dir, symlinks=True)
    return changed
