"""The composition root: everything a process builds once (engine, encoder, index, services),
opened at start and closed at shutdown. The web app, the bot and the scripts all use it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.runtime import database
from bot.service.ask import AskService
from bot.settings import Settings
from knowledge.interchange import import_dir
from knowledge.models import Case, Expert, Site
from retrieval.corpus import load_corpus
from retrieval.decision import Calibration
from retrieval.encoder import Encoder, load_encoder
from retrieval.holder import REBUILD_HINT, IndexHolder
from retrieval.index import current_version
from retrieval.rebuild import log_progress, rebuild_index
from retrieval.search import Retriever

log = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "demo"


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    encoder: Encoder
    index: IndexHolder
    retriever: Retriever
    ask: AskService


async def import_demo_if_empty(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Fill an empty knowledge base with the demo data, so a fresh checkout shows something."""
    async with sessions() as session:
        for model in (Expert, Case, Site):
            if await session.scalar(select(func.count()).select_from(model)):
                return False
        report = await import_dir(session, DEMO_DIR)
    log.info("empty database: demo knowledge imported", extra={"summary": report.summary()})
    return True


def make_encoder(settings: Settings) -> Encoder:
    return load_encoder(settings.embedding_model, settings.model_cache_dir,
                        backend=settings.embedding_backend, threads=settings.encoder_threads)


async def prepare_index(settings: Settings, sessions: async_sessionmaker[AsyncSession],
                        encoder: Encoder) -> IndexHolder:
    """Build the index when none exists; otherwise load it. A broken one leaves the service
    degraded (every question routed) with the way to fix it in the log."""
    holder = IndexHolder(settings.index_dir, encoder.model_id)
    if current_version(settings.index_dir) is None:
        log.info("no search index yet: building it before serving")
        holder.swap(await rebuild_index(sessions, encoder, settings.index_dir, log_progress()))
        return holder
    if await asyncio.to_thread(holder.load) and holder.current is not None:
        async with sessions() as session:
            checksum = (await load_corpus(session)).checksum
        if checksum != holder.current.manifest.knowledge_checksum:
            log.warning("the index is older than the knowledge base; %s", REBUILD_HINT)
    return holder


@asynccontextmanager
async def open_context(settings: Settings, encoder: Encoder | None = None) -> AsyncIterator[AppContext]:
    """Open everything; ``encoder`` may be passed in (tests share one across contexts)."""
    async with database(settings) as (engine, sessions):
        if settings.import_demo_when_empty:
            await import_demo_if_empty(sessions)
        if encoder is None:
            encoder = await asyncio.to_thread(make_encoder, settings)
        holder = await prepare_index(settings, sessions, encoder)
        calibration = Calibration.load()
        if calibration.model_id != encoder.model_id:
            log.warning("decision policy was calibrated for another model; "
                        "run scripts/evaluate.py --calibrate",
                        extra={"calibrated_for": calibration.model_id, "model": encoder.model_id})
        retriever = await asyncio.to_thread(Retriever, encoder, calibration, settings.retrieval)
        follower = asyncio.create_task(holder.follow(settings.index_poll_seconds))
        try:
            yield AppContext(settings=settings, engine=engine, sessions=sessions, encoder=encoder,
                             index=holder, retriever=retriever,
                             ask=AskService(retriever, holder))
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
