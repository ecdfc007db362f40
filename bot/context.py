"""The composition root: everything a process builds once (settings, engine, encoder, index),
opened at start and closed at shutdown. The web app, the bot and the scripts all use it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.runtime import database
from bot.settings import Settings
from knowledge.interchange import import_dir
from knowledge.models import Case, Expert, Site
from retrieval.holder import IndexHolder

log = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "demo"


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    index: IndexHolder


async def import_demo_if_empty(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Fill an empty knowledge base with the demo data, so a fresh checkout shows something."""
    async with sessions() as session:
        for model in (Expert, Case, Site):
            if await session.scalar(select(func.count()).select_from(model)):
                return False
        report = await import_dir(session, DEMO_DIR)
    log.info("empty database: demo knowledge imported", extra={"summary": report.summary()})
    return True


@asynccontextmanager
async def open_context(settings: Settings) -> AsyncIterator[AppContext]:
    async with database(settings) as (engine, sessions):
        if settings.import_demo_when_empty:
            await import_demo_if_empty(sessions)
        yield AppContext(settings=settings, engine=engine, sessions=sessions, index=IndexHolder())
