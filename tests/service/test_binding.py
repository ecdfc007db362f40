"""Binding codes on a real database (SQLite and PostgreSQL): single use, expiry, revocation,
an account moving between experts, and two uses at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.binding import expert_by_telegram, issue_bind_code, redeem_bind_code
from bot.service.clock import FakeClock
from knowledge.errors import NotFoundError
from knowledge.interchange import import_dir
from knowledge.models import Expert, TelegramBindCode
from tests.factories import expert, knowledge_folder

Sessions = async_sessionmaker[AsyncSession]
HOUR = timedelta(hours=1)


@pytest.fixture
async def kb(sessions: Sessions, tmp_path: Path) -> Sessions:
    async with sessions() as session:
        await import_dir(session, knowledge_folder(tmp_path / "kb", experts=[expert("E01"), expert("E02")]))
    return sessions


async def test_a_code_binds_once_and_is_stored_hashed(kb: Sessions):
    clock = FakeClock()
    async with kb() as session:
        code = await issue_bind_code(session, "E01", clock, HOUR)
        assert code.expires_at == clock.now() + HOUR
        stored = (await session.scalars(select(TelegramBindCode.code_hash))).all()
        assert code.code not in stored
        assert (await redeem_bind_code(session, code.code, 555, clock)).id == "E01"
        with pytest.raises(NotFoundError):
            await redeem_bind_code(session, code.code, 556, clock)
        assert (await expert_by_telegram(session, 555)).id == "E01"


async def test_expired_and_revoked_codes_are_refused(kb: Sessions):
    clock = FakeClock()
    async with kb() as session:
        old = await issue_bind_code(session, "E01", clock, HOUR)
        new = await issue_bind_code(session, "E01", clock, HOUR)
        with pytest.raises(NotFoundError):
            await redeem_bind_code(session, old.code, 1, clock)
        clock.advance(hours=1)
        with pytest.raises(NotFoundError):
            await redeem_bind_code(session, new.code, 1, clock)
        with pytest.raises(NotFoundError):
            await issue_bind_code(session, "NOPE", clock, HOUR)


async def test_an_account_moves_to_the_expert_of_the_newest_code(kb: Sessions):
    clock = FakeClock()
    async with kb() as session:
        for expert_id in ("E01", "E02"):
            code = await issue_bind_code(session, expert_id, clock, HOUR)
            await redeem_bind_code(session, code.code, 777, clock)
    async with kb() as session:
        owners = {e.id: e.telegram_id for e in (await session.scalars(select(Expert))).all()}
    assert owners == {"E01": None, "E02": 777}


async def test_of_two_uses_at_once_exactly_one_wins(kb: Sessions):
    clock = FakeClock()
    async with kb() as session:
        code = await issue_bind_code(session, "E01", clock, HOUR)

    async def use(telegram_id: int) -> bool:
        async with kb() as session:
            try:
                await redeem_bind_code(session, code.code, telegram_id, clock)
                return True
            except NotFoundError:
                return False

    assert sorted(await asyncio.gather(use(1), use(2))) == [False, True]
