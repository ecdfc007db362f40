"""Concurrent sign-ups for the last seats, on SQLite and PostgreSQL (the class row is locked
FOR UPDATE there; SQLite has one writer): never more sign-ups than seats."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.signups import sign_up
from knowledge.db import WriteGate, make_engine
from knowledge.errors import ConflictError
from knowledge.interchange import import_dir
from knowledge.models import ClassSignup
from tests.factories import expert, knowledge_folder, station, write_jsonl
from tests.service.test_classes import course

NOW = datetime(2027, 1, 10, 2, 0, tzinfo=UTC)


async def test_concurrent_sign_ups_never_overbook(
    sessions: async_sessionmaker[AsyncSession], settings, tmp_path: Path
):
    folder = knowledge_folder(tmp_path / "kb", experts=[expert("E01")], stations=[station("S01")])
    write_jsonl(folder / "classes.jsonl", [course(capacity=2)])
    async with sessions() as session:
        await import_dir(session, folder)
    engine = make_engine(settings.db_url)
    gate = WriteGate(engine)

    async def one(phone: str) -> str:
        async with sessions() as session:
            status, _ = await sign_up(session, gate, "C01", "王师傅", "徐工集团", phone, NOW)
            return status.id

    try:
        outcomes = await asyncio.gather(*(one(f"1380000000{i}") for i in range(6)), return_exceptions=True)
    finally:
        await engine.dispose()
    assert sum(isinstance(o, str) for o in outcomes) == 2
    assert all(isinstance(o, str | ConflictError) for o in outcomes), outcomes
    async with sessions() as session:
        rows = (await session.scalars(select(ClassSignup).where(ClassSignup.class_id == "C01"))).all()
    assert len(rows) == 2
