"""QR cards: the sites asked for, or every active site (of a steward's sites only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.qr import site_cards
from knowledge.errors import ConflictError
from knowledge.interchange import import_dir
from tests.factories import knowledge_folder, site

URL = "https://desk.example.cn"


@pytest.fixture
async def sites(sessions: async_sessionmaker[AsyncSession], tmp_path: Path):
    folder = knowledge_folder(
        tmp_path / "kb", sites=[site("a-1"), site("a-2"), site("b-1"), site("a-off", active=False)]
    )
    async with sessions() as session:
        await import_dir(session, folder)
    return sessions


async def test_every_active_site_or_those_of_a_scope(sites):
    async with sites() as session:
        assert [c.code for c in await site_cards(session, URL)] == ["a-1", "a-2", "b-1"]
        scoped = await site_cards(session, URL, within={"a-2", "a-off", "b-1"})
        assert [c.code for c in scoped] == ["a-2", "b-1"]
        assert await site_cards(session, URL, within=set()) == []  # a steward with no sites: none
        asked = await site_cards(session, URL, ["b-1", "a-1"])
        assert [c.url for c in asked] == [f"{URL}/c/b-1", f"{URL}/c/a-1"]
        with pytest.raises(ConflictError, match="a-off"):
            await site_cards(session, URL, ["a-off"])
