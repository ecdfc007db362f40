"""A full index rebuild started from the admin API, running beside the service; the served
index is swapped only when the new one is complete."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from retrieval.encoder import Encoder
from retrieval.holder import IndexHolder
from retrieval.rebuild import rebuild_index

log = logging.getLogger(__name__)


@dataclass
class ReindexState:
    state: str = "idle"  # idle / running / done / failed
    done: int = 0
    total: int = 0
    version: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reindexer:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], encoder: Encoder, index: IndexHolder):
        self.sessions = sessions
        self.encoder = encoder
        self.index = index
        self.state = ReindexState()
        self._task: asyncio.Task[None] | None = None
        self._again = False  # the knowledge changed while a rebuild was reading it

    def start(self) -> ReindexState:
        """Start a rebuild; while one is running, another follows it (the running one may have
        read the knowledge before the change that asks for this one). The current state."""
        if self.state.state == "running":
            self._again = True
        else:
            self.state = ReindexState(state="running")
            self._task = asyncio.create_task(self._run())
        return self.state

    async def wait(self) -> ReindexState:
        if self._task is not None:
            await asyncio.shield(self._task)
        return self.state

    async def _run(self) -> None:
        def progress(done: int, total: int) -> None:
            self.state.done, self.state.total = done, total

        while True:
            self._again = False
            try:
                index = await rebuild_index(self.sessions, self.encoder, self.index.index_dir, progress)
            except Exception as exc:
                log.exception("index rebuild failed")
                self.state.state, self.state.error = "failed", str(exc)
                return
            self.index.swap(index)
            if not self._again:
                break
        self.state.state, self.state.version = "done", index.version

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
