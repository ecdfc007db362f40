"""Live ticket changes, for the pages that show a ticket or an expert's queue while they are open
(server-sent events: ``bot/web/routes/events.py``).

Where a change comes from
  One hook point: SQLAlchemy session events on the engine the feed is attached to. After each
  flush the tickets written (a ticket row inserted or updated; every change bumps its version,
  a new message on it too) are noted in the session, with the experts concerned (the holder and
  the experts offered it, before and after the change); after the commit the feed is touched
  with them, after a rollback they are dropped. So every way a ticket changes (an answer, a
  message, a claim, a close, the silence sweep, an admin's assignment, a Telegram reply) reaches
  the pages without each service method remembering to announce it, and only once it is
  committed. (The outbox's ``emit`` would miss a claim: it notifies nobody.)

Several instances (PostgreSQL)
  The same flush also sends ``NOTIFY craftdesk_tickets, '{"ticket": ..., "experts": [...]}'``:
  PostgreSQL delivers it at the commit and drops it with a rollback. Each instance LISTENs on a
  connection of its own (``bot.service.pg_listen``) and touches its feed; its own notifications
  come back too, which costs one extra read. SQLite is one process: the hook alone does it.

The safety net
  A stream also reads its tickets' versions every ``recheck`` seconds: a notification lost
  while the LISTEN connection was down is late, never missing. A stream yields the ticket ids
  whose version changed (all of them at the start), ``None`` when it has been silent for
  ``keepalive`` seconds, and ends after ``lifetime`` seconds or when the feed closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from bot.service.pg_listen import Listener
from bot.service.tickets import TicketService
from knowledge.models import Ticket, TicketMessage

log = logging.getLogger(__name__)

CHANNEL = "craftdesk_tickets"
RECONNECT_SECONDS = 5.0  # how often a dropped LISTEN connection is tried again
_NOTED = "craftdesk.ticket_changes"  # session.info: {ticket id: experts concerned}, until commit

Versions = dict[str, int]  # ticket id -> version


@dataclass(frozen=True)
class StreamTiming:
    keepalive: float = 20.0  # a silent stream yields None this often (the page's keep-alive)
    lifetime: float = 600.0  # a stream ends after this long; the page reconnects
    recheck: float = 15.0  # the versions are read again this often, woken or not


@dataclass(frozen=True)
class Watch:
    """What one stream follows: the feed keys that wake it, and how to read the versions."""

    keys: frozenset[str]
    versions: Callable[[AsyncSession], Awaitable[Versions]]


def ticket_key(ticket_id: str) -> str:
    return f"ticket:{ticket_id}"


def expert_key(expert_id: str) -> str:
    return f"expert:{expert_id}"


def one_ticket(ticket_id: str) -> Watch:
    """A worker's ticket: its version, nothing when it is gone."""

    async def versions(session: AsyncSession) -> Versions:
        version = await session.scalar(select(Ticket.version).where(Ticket.id == ticket_id))
        return {} if version is None else {ticket_id: version}

    return Watch(frozenset({ticket_key(ticket_id)}), versions)


def expert_queue(tickets: TicketService, expert_id: str) -> Watch:
    """An expert's queue (``TicketService.assigned_to``): a ticket coming, changing or leaving."""

    async def versions(session: AsyncSession) -> Versions:
        return {ticket.id: ticket.version for ticket in await tickets.assigned_to(session, expert_id)}

    return Watch(frozenset({expert_key(expert_id)}), versions)


class _Subscriber:
    def __init__(self) -> None:
        self.woken = asyncio.Event()


class TicketFeed:
    """The changes of one process, fanned out to its open streams (see the module docstring)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], dsn: str | None = None):
        """``dsn``: asyncpg's DSN (``pg_listen.listen_dsn``) to LISTEN on; None: this process only."""
        self.sessions = sessions
        self.dsn = dsn
        self.closed = False
        self._by_key: dict[str, set[_Subscriber]] = {}
        self._open = 0
        self._engine: Engine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listening: asyncio.Task[None] | None = None

    @property
    def streams(self) -> int:
        """How many streams are open."""
        return self._open

    # ---- lifetime ----------------------------------------------------------------------------

    async def start(self, engine: AsyncEngine) -> None:
        """Hear the commits made through ``engine`` (and, with a DSN, other instances')."""
        _install_hooks()
        self._loop = asyncio.get_running_loop()
        self._engine = engine.sync_engine
        _feeds[self._engine] = self
        if self.dsn is not None:
            self._listening = asyncio.create_task(self._listen(self.dsn))

    async def close(self) -> None:
        """Stop hearing changes; open streams end."""
        self.closed = True
        if self._engine is not None and _feeds.get(self._engine) is self:
            del _feeds[self._engine]
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listening
        self.touch_all()

    async def _listen(self, dsn: str) -> None:
        listener = Listener(dsn, CHANNEL, self._heard, self.touch_all, "ticket changes")
        try:
            while True:
                await listener.connect()
                await asyncio.sleep(RECONNECT_SECONDS)
        finally:
            await listener.close()

    def _heard(self, payload: str) -> None:
        try:
            change = json.loads(payload)
            ticket_id, experts = str(change["ticket"]), [str(e) for e in change.get("experts", [])]
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed ticket notification", extra={"payload": payload[:200]})
            return
        self.touch(ticket_id, experts)

    # ---- changes -----------------------------------------------------------------------------

    def touch(self, ticket_id: str, expert_ids: Iterable[str] = ()) -> None:
        """Wake the streams following the ticket or one of the experts' queues."""
        keys = [ticket_key(ticket_id), *(expert_key(e) for e in expert_ids)]
        self._wake({sub for key in keys for sub in self._by_key.get(key, ())})

    def touch_all(self) -> None:
        """Wake every stream (changes may have been missed, or the feed is closing)."""
        self._wake({sub for subs in self._by_key.values() for sub in subs})

    def _wake(self, subscribers: set[_Subscriber]) -> None:
        for sub in subscribers:
            if self._loop is not None and self._loop.is_closed():
                return
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if self._loop is None or running is self._loop:
                sub.woken.set()
            else:  # a commit made on another thread's loop
                self._loop.call_soon_threadsafe(sub.woken.set)

    # ---- streams -----------------------------------------------------------------------------

    async def follow(self, watch: Watch, timing: StreamTiming) -> AsyncGenerator[frozenset[str] | None, None]:
        """The ticket ids whose version changed (all at the start), ``None`` after ``keepalive``
        seconds of silence; ends after ``lifetime`` seconds or when the feed closes."""
        loop = asyncio.get_running_loop()
        sub = _Subscriber()
        for key in watch.keys:
            self._by_key.setdefault(key, set()).add(sub)
        self._open += 1
        try:
            seen = await self._read(watch)
            yield frozenset(seen)
            now = loop.time()
            end, check, beat = now + timing.lifetime, now + timing.recheck, now + timing.keepalive
            while not self.closed and (now := loop.time()) < end:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sub.woken.wait(), max(0.0, min(check, beat, end) - now))
                woken, now = sub.woken.is_set(), loop.time()
                sub.woken.clear()
                if self.closed:
                    return
                if woken or now >= check:
                    current = await self._read(watch)
                    changed = frozenset(
                        k for k in seen.keys() | current.keys() if seen.get(k) != current.get(k)
                    )
                    seen, check = current, now + timing.recheck
                    if changed:
                        yield changed
                        beat = loop.time() + timing.keepalive
                        continue
                if now >= beat:
                    yield None
                    beat = loop.time() + timing.keepalive
        finally:
            self._open -= 1
            for key in watch.keys:
                subs = self._by_key.get(key)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._by_key[key]

    async def _read(self, watch: Watch) -> Versions:
        async with self.sessions() as session:
            return await watch.versions(session)


# ---- the hook: SQLAlchemy session events -----------------------------------------------------

_feeds: dict[Engine, TicketFeed] = {}  # the engine a feed hears, by the sessions' bind


def _install_hooks() -> None:
    for name, hook in (("after_flush", _noted), ("after_commit", _committed), ("after_rollback", _dropped)):
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)


def _experts_of(ticket: Ticket) -> set[str]:
    """The holder and the experts offered the ticket, before and after the change."""
    state = inspect(ticket)
    experts: set[str] = set()
    for name in ("expert_id", "offered_to"):
        history = state.attrs[name].history
        for value in (*history.added, *history.unchanged, *history.deleted):
            if isinstance(value, str):
                experts.add(value)
            elif isinstance(value, list):
                experts.update(v for v in value if isinstance(v, str))
    return experts


def _noted(session: Session, flush_context: Any) -> None:
    """After a flush: the tickets it wrote, noted for the commit (and announced on PostgreSQL)."""
    bind = session.bind
    if not isinstance(bind, Engine) or bind not in _feeds:
        return
    written: dict[str, set[str]] = {}
    for obj in session.new | session.dirty:
        if isinstance(obj, Ticket) and (obj in session.new or session.is_modified(obj)):
            written.setdefault(obj.id, set()).update(_experts_of(obj))
        elif isinstance(obj, TicketMessage) and obj in session.new:
            written.setdefault(obj.ticket_id, set())
    if not written:
        return
    noted: dict[str, set[str]] = session.info.setdefault(_NOTED, {})
    for ticket_id, experts in written.items():
        noted.setdefault(ticket_id, set()).update(experts)
    if bind.dialect.name == "postgresql":  # delivered at the commit, dropped with a rollback
        connection = session.connection()
        for ticket_id, experts in written.items():
            payload = json.dumps({"ticket": ticket_id, "experts": sorted(experts)})
            connection.execute(select(func.pg_notify(CHANNEL, payload)))


def _committed(session: Session) -> None:
    noted: dict[str, set[str]] | None = session.info.pop(_NOTED, None)
    feed = _feeds.get(session.bind) if isinstance(session.bind, Engine) else None
    if noted and feed is not None:
        for ticket_id, experts in noted.items():
            feed.touch(ticket_id, experts)


def _dropped(session: Session) -> None:
    session.info.pop(_NOTED, None)
