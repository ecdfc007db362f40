"""Fixtures of the service tests: a small knowledge base, a fake clock, the ticket service."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.clock import FakeClock
from bot.service.photo_store import DiskPhotos
from bot.service.tickets import TicketPolicy, TicketService
from knowledge.interchange import import_dir
from tests.factories import expert, knowledge_folder, site

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def kb(sessions: Sessions, tmp_path: Path) -> Sessions:
    """Three ranked county experts, two city-team experts, one inactive, one at capacity."""
    folder = knowledge_folder(
        tmp_path / "kb",
        experts=[
            expert("E01"),
            expert("E02"),
            expert("E03", active=False),
            expert("E04", max_open_tickets=0),
            expert("C01", region="徐州市"),
            expert("C02", region="徐州市"),
        ],
        sites=[site("xcmg-3")],
    )
    async with sessions() as session:
        await import_dir(session, folder)
    return sessions


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(clock: FakeClock, tmp_path: Path) -> TicketService:
    return TicketService(clock, TicketPolicy(), DiskPhotos(tmp_path / "uploads"))
