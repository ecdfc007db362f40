"""A full index rebuild started from the admin API, running beside the service; the served
index is swapped only when the new one is complete. With the index in the database
(``bot.service.index_store``) one rebuild runs in the deployment: asked for while another
instance runs one, ``start`` reports that one (``instance``, ``started_at``) and starts nothing
then; once it is over, a rebuild follows here if its version does not hold the knowledge as it
is (the change that asked may have come after it read the knowledge)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.clock import Clock, SystemClock
from bot.service.index_store import IndexStore, RunningRebuild
from retrieval.encoder import Encoder
from retrieval.holder import IndexHolder
from retrieval.rebuild import rebuild_index

log = logging.getLogger(__name__)

ELSEWHERE_POLL_SECONDS = 2.0  # how often the end of another instance's rebuild is looked for


@dataclass
class ReindexState:
    state: str = "idle"  # idle / running / done / failed
    done: int = 0
    total: int = 0
    version: str | None = None
    error: str | None = None
    instance: str | None = None  # the instance running it (or that ran it)
    started_at: str | None = None  # ISO 8601, UTC

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def elsewhere(cls, running: RunningRebuild) -> ReindexState:
        since = running.since.isoformat() if running.since else None
        return cls(state="running", instance=running.instance, started_at=since)


class Reindexer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        encoder: Encoder,
        index: IndexHolder,
        store: IndexStore | None = None,
        instance: str | None = None,
        clock: Clock | None = None,
    ):
        """``store``: the index versions in the database (several instances), else the data dir."""
        self.sessions = sessions
        self.encoder = encoder
        self.index = index
        self.store = store
        self.instance = instance
        self.clock = clock or SystemClock()
        self.state = ReindexState()
        self._task: asyncio.Task[None] | None = None
        self._again = False  # the knowledge changed while a rebuild was reading it
        self._after: asyncio.Task[None] | None = None  # waits for another instance's rebuild

    async def start(self) -> ReindexState:
        """Start a rebuild; while one is running here, another follows it (the running one may
        have read the knowledge before the change that asks for this one). The current state,
        or that of the rebuild another instance runs (it reads the knowledge again at its end:
        the change is not lost)."""
        if self.state.state == "running":
            self._again = True
            return self.state
        if self.store is not None and (elsewhere := await self.store.claim_rebuild()) is not None:
            if self._after is None or self._after.done():
                self._after = asyncio.create_task(self._after_elsewhere(self.store))
            return ReindexState.elsewhere(elsewhere)
        started = self.clock.now().isoformat()
        self.state = ReindexState(state="running", instance=self.instance, started_at=started)
        self._task = asyncio.create_task(self._run())
        return self.state

    async def status(self) -> ReindexState:
        """This instance's rebuild, or the one running on another instance."""
        if self.state.state != "running" and self.store is not None:
            if (elsewhere := await self.store.running_rebuild()) is not None:
                return ReindexState.elsewhere(elsewhere)
        return self.state

    async def _after_elsewhere(self, store: IndexStore) -> None:
        """Once the other instance's rebuild is over: rebuild here unless its version holds the
        knowledge as it is now."""
        try:
            while await store.running_rebuild() is not None:
                await asyncio.sleep(ELSEWHERE_POLL_SECONDS)
            if not await store.holds_the_knowledge():
                await self.start()
        except Exception:
            log.exception("checking the index after another instance's rebuild failed")

    async def wait(self) -> ReindexState:
        """The state once this instance's rebuild (and any it follows up on) is over."""
        if self._after is not None:
            await asyncio.shield(self._after)
        if self._task is not None:
            await asyncio.shield(self._task)
        return self.state

    async def _run(self) -> None:
        def progress(done: int, total: int) -> None:
            self.state.done, self.state.total = done, total

        while True:
            self._again = False
            try:
                if self.store is not None:  # stored, announced and served by the store
                    index = await self.store.rebuild(progress)
                else:
                    index = await rebuild_index(
                        self.sessions, self.encoder, self.index.index_dir, progress, self.index.current
                    )
                    self.index.swap(index)
            except Exception as exc:
                log.exception("index rebuild failed")
                self.state.state, self.state.error = "failed", str(exc)
                return
            if not self._again:
                break
        self.state.state, self.state.version = "done", index.version

    async def close(self) -> None:
        for task in (self._after, self._task):
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
