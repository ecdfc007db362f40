"""Rebuilding the index from the knowledge store: used by ``scripts/rebuild_index.py``, the
admin API and the first start of a fresh install."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge.errors import IndexUnavailableError
from retrieval.corpus import load_corpus
from retrieval.encoder import Encoder
from retrieval.index import KnowledgeIndex, Progress, build_index, load_index, save_index

log = logging.getLogger(__name__)


async def rebuild_index(
    sessions: async_sessionmaker[AsyncSession],
    encoder: Encoder,
    index_dir: Path,
    progress: Progress | None = None,
    reuse: KnowledgeIndex | None = None,
) -> KnowledgeIndex:
    """Read the corpus, encode it off the event loop, save it as the new current version. Texts
    the index in service (``reuse``, else the current version in ``index_dir``) holds already
    are not encoded again."""
    started = time.perf_counter()
    async with sessions() as session:
        corpus = await load_corpus(session)
    log.info("index rebuild started", extra={"cases": len(corpus.cases), "experts": len(corpus.experts)})

    def work() -> KnowledgeIndex:
        index = build_index(corpus, encoder, progress, reuse=reuse or _current(index_dir, encoder))
        save_index(index, index_dir)
        return index

    index = await asyncio.to_thread(work)
    log.info(
        "index rebuild done",
        extra={"version": index.version, "seconds": round(time.perf_counter() - started, 2)},
    )
    return index


def _current(index_dir: Path, encoder: Encoder) -> KnowledgeIndex | None:
    try:
        return load_index(index_dir, encoder.model_id)
    except IndexUnavailableError:
        return None  # none yet, or of another model or format: everything is encoded


def log_progress(every_seconds: float = 2.0) -> Progress:
    """A progress callback that logs at most every few seconds (for servers, not terminals)."""
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= every_seconds:
            last[0] = now
            log.info("encoding knowledge", extra={"done": done, "total": total})

    return report
