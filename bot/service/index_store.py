"""The search index of instances that share no disk (``CRAFTDESK_INDEX_STORE=database``, on
PostgreSQL): its versions kept in the table ``index_versions``, every instance serving the newest.

How a version travels
  The instance that makes a version (a rebuild, a publish) saves it in its own data dir, packs
  the folder into one blob (``retrieval.store``, in a thread) and inserts it, pruning the table
  to the newest ``keep``, and in the same transaction sends ``NOTIFY craftdesk_index,
  '<version>'``. Every instance LISTENs on a connection of its own (asyncpg) and also polls the
  newest version id every ``poll`` seconds: a notification sent while its connection is down is
  lost, so the poll is the safety net (and the only way in when LISTEN cannot connect). An
  instance that sees a newer version than it serves fetches it, unpacks it into its data dir
  (the layout of a local build), loads it in a thread and swaps it in. At start the newest
  stored version is taken; an instance builds one only when none is stored (or the stored one
  is unusable here, e.g. made for another model), and waits while another is building it.

Why no change is lost
  Every version is written under the lease ``index`` (one writer in the deployment, and one
  task in the instance), and built from the database, not from the index the instance serves:
  - a publish commits its case first; then, holding the lease, it takes the newest stored
    version and adds every case of the database missing from it (its own, and any whose
    publish could not write a version). Two publishes at the same moment are ordered by the
    lease; the second starts from the first's version, so both cases survive.
  - a rebuild reads and encodes the knowledge without the lease (minutes on a big base); then,
    holding it, it reads the knowledge again: cases published meanwhile are added, any other
    change (an expert or case edited after it was read) makes it start over.
  - one rebuild runs in the deployment at a time: it holds the lease ``rebuild``, renewed while
    it runs; asked for on another instance, a rebuild reports who runs it and since when.
  A publish that cannot get the lease within ``WRITE_WAIT`` seconds leaves its case in the
  database only: the next publish or rebuild adds it (logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.clock import Clock
from bot.service.leases import Lease
from bot.service.pg_listen import Listener
from bot.service.pg_listen import listen_dsn as listen_dsn  # where the callers import it from
from knowledge.errors import ConflictError, IndexUnavailableError
from knowledge.models import IndexVersion
from retrieval.corpus import Corpus, load_corpus
from retrieval.encoder import Encoder
from retrieval.holder import IndexHolder
from retrieval.index import KnowledgeIndex, Progress, build_index, load_index, point_current, save_index
from retrieval.store import Packed, pack, unpack

log = logging.getLogger(__name__)

CHANNEL = "craftdesk_index"
WRITE_LEASE_TTL = timedelta(seconds=60)  # a write takes seconds; renewed while it runs
REBUILD_LEASE_TTL = timedelta(seconds=120)  # another instance may rebuild this long after a crash
WRITE_WAIT = 30.0  # seconds a write waits for the ``index`` lease


class IndexBusyError(ConflictError):
    """The ``index`` or ``rebuild`` lease is held by another instance."""


@dataclass(frozen=True)
class RunningRebuild:
    instance: str
    since: datetime | None


@contextlib.asynccontextmanager
async def holding(lease: Lease, wait: float) -> AsyncIterator[None]:
    """Hold ``lease`` for the block, renewed every third of its ttl, released after; try for
    ``wait`` seconds to get it (0: once), then raise ``IndexBusyError``."""
    deadline, delay = time.monotonic() + wait, 0.05
    while not await lease.acquire_or_renew():
        if time.monotonic() + delay > deadline:
            raise IndexBusyError(f"the {lease.name} lease is held by another instance")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease.ttl.total_seconds() / 3)
            with contextlib.suppress(Exception):  # a database hiccup: the next try, or it lapses
                await lease.acquire_or_renew()

    renewer = asyncio.create_task(renew())
    try:
        yield
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        try:
            await lease.release()
        except Exception:  # the database is gone (a shutdown): the lease lapses after its ttl
            log.warning("could not release the %s lease", lease.name, exc_info=True)


def changed_besides_new_cases(index: KnowledgeIndex, corpus: Corpus) -> bool:
    """Whether the knowledge differs from ``index`` in more than cases it lacks."""
    if corpus.experts != index.experts:
        return True
    indexed = {case.id: case for case in index.cases}
    if indexed.keys() - {case.id for case in corpus.cases}:
        return True
    return any(indexed.get(case.id, case) != case for case in corpus.cases)


class IndexStore:
    """The index versions in the database, as one instance (``instance``) reads and writes them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        holder: IndexHolder,
        encoder: Encoder,
        instance: str,
        clock: Clock,
        keep: int = 3,
        dsn: str | None = None,
    ):
        """``dsn``: asyncpg's DSN of the database, to LISTEN (``listen_dsn``); None: poll only."""
        self.sessions = sessions
        self.holder = holder
        self.encoder = encoder
        self.instance = instance
        self.keep = keep
        self.dsn = dsn
        self.index_lease = Lease(sessions, "index", instance, WRITE_LEASE_TTL, clock)
        self.rebuild_lease = Lease(sessions, "rebuild", instance, REBUILD_LEASE_TTL, clock)
        self.unusable: set[str] = set()  # versions that failed to load here: not tried again
        self._lock = asyncio.Lock()  # one task of this instance reads or writes versions at a time

    # ---- the table -------------------------------------------------------------------------

    async def newest(self) -> str | None:
        async with self.sessions() as session:
            return await session.scalar(
                select(IndexVersion.version)
                .order_by(IndexVersion.created_at.desc(), IndexVersion.version.desc())
                .limit(1)
            )

    async def versions(self) -> list[str]:
        """The stored versions, newest first."""
        async with self.sessions() as session:
            return list(
                await session.scalars(
                    select(IndexVersion.version).order_by(
                        IndexVersion.created_at.desc(), IndexVersion.version.desc()
                    )
                )
            )

    async def _insert(self, packed: Packed) -> None:
        """Store a version, prune to the newest ``keep`` and announce it, in one transaction
        (the notification goes out at commit)."""
        async with self.sessions() as session:
            session.add(
                IndexVersion(
                    version=packed.version,
                    created_by=self.instance,
                    manifest=packed.manifest,
                    size=len(packed.blob),
                    sha256=packed.sha256,
                    blob=packed.blob,
                )
            )
            await session.flush()
            newest = (
                select(IndexVersion.version)
                .order_by(IndexVersion.created_at.desc(), IndexVersion.version.desc())
                .limit(self.keep)
            )
            await session.execute(
                delete(IndexVersion).where(IndexVersion.version.not_in(newest.scalar_subquery()))
            )
            await session.execute(select(func.pg_notify(CHANNEL, packed.version)))
            await session.commit()
        log.info(
            "index version stored",
            extra={"version": packed.version, "bytes": len(packed.blob), "instance": self.instance},
        )

    async def _save(self, index: KnowledgeIndex) -> None:
        """Save a new version in the data dir, then in the table, then serve it."""

        def files() -> Packed:
            return pack(save_index(index, self.holder.index_dir))

        await self._insert(await asyncio.to_thread(files))
        self.holder.swap(index)

    async def _load(self, version: str) -> KnowledgeIndex:
        """``version`` loaded, from the data dir when it is there, else fetched and unpacked."""
        index_dir = self.holder.index_dir
        if (index_dir / "versions" / version / "manifest.json").is_file():
            await asyncio.to_thread(point_current, index_dir, version)
        else:
            async with self.sessions() as session:
                row = (
                    await session.execute(
                        select(IndexVersion.blob, IndexVersion.sha256).where(IndexVersion.version == version)
                    )
                ).one_or_none()
            if row is None:
                raise IndexUnavailableError(f"index version {version} is no longer stored")
            await asyncio.to_thread(unpack, row.blob, row.sha256, index_dir, version)
        return await asyncio.to_thread(load_index, index_dir, self.holder.model_id)

    # ---- reading ---------------------------------------------------------------------------

    async def catch_up(self) -> bool:
        """Serve the newest stored version if this instance serves another; True if swapped."""
        async with self._lock:
            newest = await self.newest()
            serving = self.holder.current.version if self.holder.current else None
            if newest is None or newest == serving or newest in self.unusable:
                return False
            return await self._take(newest)

    async def _take(self, version: str) -> bool:
        try:
            index = await self._load(version)
        except IndexUnavailableError as exc:
            self.unusable.add(version)
            log.warning(
                "stored index version is unusable here, keeping the current one",
                extra={"version": version, "problem": str(exc)},
            )
            return False
        self.holder.swap(index)
        return True

    async def prepare(self, poll: float, progress: Progress | None = None) -> None:
        """At start: serve the newest stored version. When none is stored (or it is unusable
        here) build one, unless another instance is building it: then wait for that one."""
        waiting = False
        while True:
            if await self.catch_up() or self.holder.current is not None:
                return
            if await self.rebuild_lease.acquire_or_renew():
                newest = await self.newest()
                log.info(
                    "building the search index before serving: %s",
                    "no stored version is usable here" if newest else "no index version stored yet",
                )
                await self.rebuild(progress)
                return
            if not waiting:
                waiting = True
                log.info("another instance is building the search index; waiting for its version")
            await asyncio.sleep(poll)

    async def follow(self, poll: float, listen: bool = True) -> None:
        """Serve each new version: on its notification, or at the latest ``poll`` seconds after it."""
        wake = asyncio.Event()
        listener = (
            Listener(self.dsn, CHANNEL, lambda _: wake.set(), wake.set, "index versions")
            if listen and self.dsn
            else None
        )
        try:
            while True:
                if listener is not None:
                    await listener.connect()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), poll)
                wake.clear()
                try:
                    await self.catch_up()
                except Exception:
                    log.exception("looking for a new index version failed")
        finally:
            if listener is not None:
                await listener.close()

    # ---- writing ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _writing(self, wait: float) -> AsyncIterator[None]:
        """This instance's lock, then the deployment's ``index`` lease, within ``wait`` seconds."""
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._lock.acquire(), wait)
        except TimeoutError:
            raise IndexBusyError("another index update of this instance takes too long") from None
        try:
            async with holding(self.index_lease, max(0.0, wait - (time.monotonic() - started))):
                yield
        finally:
            self._lock.release()

    async def _with_new_cases(self, base: KnowledgeIndex, corpus: Corpus) -> KnowledgeIndex:
        """``base`` with the cases of ``corpus`` it lacks (encoded in a thread); ``base`` when none."""
        missing = [case for case in corpus.cases if case.id not in base.case_position]
        if not missing:
            return base
        views = base.views

        def work() -> KnowledgeIndex:
            vectors = self.encoder.encode([text for case in missing for text in case.views])
            return base.with_cases(missing, vectors.reshape(len(missing), views, -1), corpus.checksum)

        return await asyncio.to_thread(work)

    async def add_published(self) -> KnowledgeIndex | None:
        """After a case was committed: a new version from the newest stored one with every case
        it lacks. None when there is nothing to add to yet, or the lease stayed busy (logged:
        the next publish or rebuild adds the case)."""
        try:
            async with self._writing(WRITE_WAIT):
                newest = await self.newest()
                if newest is None:  # the first rebuild will hold the case
                    return None
                current = self.holder.current
                base = current if current and current.version == newest else await self._load(newest)
                async with self.sessions() as session:
                    corpus = await load_corpus(session)
                index = await self._with_new_cases(base, corpus)
                if index is not base:
                    await self._save(index)
                elif current is not base:  # the newest stored version holds the case already
                    self.holder.swap(base)
                return index
        except (IndexBusyError, IndexUnavailableError) as exc:
            log.warning(
                "published case not indexed yet: the next publish or rebuild adds it",
                extra={"problem": str(exc)},
            )
            return None

    async def claim_rebuild(self) -> RunningRebuild | None:
        """Take the ``rebuild`` lease for a rebuild about to start; the one running elsewhere
        when another instance holds it (None: ours)."""
        if await self.rebuild_lease.acquire_or_renew():
            return None
        return await self.running_rebuild()

    async def running_rebuild(self) -> RunningRebuild | None:
        """The rebuild running on another instance, if any."""
        row = await self.rebuild_lease.holding_row()
        if row is None or row.holder == self.instance:
            return None
        return RunningRebuild(row.holder, row.taken_at)

    async def holds_the_knowledge(self) -> bool:
        """Whether the newest stored version was made from the knowledge as it is now."""
        async with self.sessions() as session:
            manifest = await session.scalar(
                select(IndexVersion.manifest)
                .order_by(IndexVersion.created_at.desc(), IndexVersion.version.desc())
                .limit(1)
            )
            checksum = (await load_corpus(session)).checksum
        return manifest is not None and manifest.get("knowledge_checksum") == checksum

    async def rebuild(self, progress: Progress | None = None) -> KnowledgeIndex:
        """Build a version from the whole knowledge base, store and serve it (see the module's
        docstring for how changes made meanwhile are kept). Raises ``IndexBusyError`` when
        another instance is rebuilding."""
        async with holding(self.rebuild_lease, 0):
            started = time.perf_counter()
            while True:
                async with self.sessions() as session:
                    corpus = await load_corpus(session)
                log.info(
                    "index rebuild started",
                    extra={"cases": len(corpus.cases), "experts": len(corpus.experts)},
                )
                built = await asyncio.to_thread(
                    build_index, corpus, self.encoder, progress, reuse=self.holder.current
                )
                async with self._writing(WRITE_WAIT):
                    async with self.sessions() as session:
                        now = await load_corpus(session)
                    if not changed_besides_new_cases(built, now):
                        index = await self._with_new_cases(built, now)
                        await self._save(index)
                        break
                log.info("the knowledge changed while the index was rebuilt: building again")
        log.info(
            "index rebuild done",
            extra={"version": index.version, "seconds": round(time.perf_counter() - started, 2)},
        )
        return index
