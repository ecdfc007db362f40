"""The composition root: everything a process builds once (engine, encoder, index, services),
opened at start and closed at shutdown. The web app, the bot and the scripts all use it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.admin_token import resolve_admin_token
from bot.limits import Budget, make_limits
from bot.runtime import database
from bot.service.ask import AskService
from bot.service.classes import ClassCatalogue, bring_demo_classes_forward
from bot.service.clock import Clock, SystemClock
from bot.service.index_store import IndexStore, listen_dsn
from bot.service.leases import Lease
from bot.service.need_demo import import_demo_needs
from bot.service.needs import NeedsService
from bot.service.outbox import Notifier, OutboxDispatcher
from bot.service.photo_store import DatabasePhotos, DiskPhotos, PhotoStore
from bot.service.publishing import Publisher
from bot.service.reindex import Reindexer
from bot.service.signups import DoorCodes
from bot.service.ticket_events import TicketFeed
from bot.service.tickets import TicketPolicy, TicketService
from bot.settings import Settings
from bot.shared_state import SharedState
from bot.telegram.services import BotServices
from bot.wechat.channel import WeChatChannel, open_wechat
from knowledge.db import WriteGate
from knowledge.errors import IndexUnavailableError
from knowledge.interchange import import_dir
from knowledge.models import Case, Expert, Site
from retrieval.corpus import load_corpus
from retrieval.decision import Calibration
from retrieval.encoder import Encoder, load_encoder
from retrieval.holder import REBUILD_HINT, IndexHolder
from retrieval.index import current_version, outdated
from retrieval.rebuild import log_progress, rebuild_index
from retrieval.search import Retriever
from retrieval.verifier import DIRNAME as VERIFIER_DIRNAME
from retrieval.verifier import Verifier, load_verifier

if TYPE_CHECKING:  # aiogram is imported only when a bot token is set (it is slow to import)
    from bot.telegram.channel import TelegramChannel

log = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "demo"


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    encoder: Encoder
    index: IndexHolder
    retriever: Retriever
    ask: AskService
    tickets: TicketService
    needs: NeedsService
    publisher: Publisher
    reindexer: Reindexer
    outbox: OutboxDispatcher
    limits: dict[str, Budget]
    shared: SharedState  # the limits' storage and the webhook's update ids: Redis or memory
    sweep_lease: Lease  # the silence sweep runs on the instance holding it
    telegram: TelegramChannel | None = None  # when a bot token is set
    classes: ClassCatalogue | None = None  # the related-class matcher, kept in step with the catalogue
    door: DoorCodes | None = None  # the classes' door QR codes
    index_store: IndexStore | None = None  # CRAFTDESK_INDEX_STORE=database: the versions in PostgreSQL
    ticket_feed: TicketFeed | None = None  # live ticket changes, for the pages' event streams
    wechat: WeChatChannel | None = None  # when the service account or the WeCom app is set


CLASS_POLL_SECONDS = 30.0  # another process's import, or a class that has started


async def refresh_classes(context: AppContext) -> bool:
    """The related-class matcher rebuilt when the upcoming classes changed."""
    if context.classes is None:
        return False
    async with context.sessions() as session:
        return await context.classes.refresh(session, context.clock.now())


def bot_services(context: AppContext) -> BotServices:
    """What the Telegram handlers use, from the context (the flood budget in the shared storage)."""
    return BotServices(
        ask=context.ask,
        tickets=context.tickets,
        needs=context.needs,
        reindexer=context.reindexer,
        clock=context.clock,
        sessions=context.sessions,
        bot_settings=context.settings.telegram,
        flood=Budget("flood", context.settings.telegram.flood_per_minute, context.shared.limits),
        public_url=context.settings.public_url,
    )


EMPTY_HINT = (
    "empty knowledge base: no experts, cases or sites, so no question is answered from a case and "
    "tickets wait in the admin queue; "
    "import the real ones with `python scripts/import_knowledge.py DIR` (docs/knowledge-format.md), "
    "or, to try craftdesk out, start once with CRAFTDESK_IMPORT_DEMO_WHEN_EMPTY=true (demo experts "
    "and sites: never on a live service)"
)


async def knowledge_is_empty(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        for model in (Expert, Case, Site):
            if await session.scalar(select(func.count()).select_from(model)):
                return False
    return True


async def import_demo_if_empty(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Fill an empty knowledge base with the demo data, so a fresh checkout shows something."""
    if not await knowledge_is_empty(sessions):
        return False
    async with sessions() as session:
        report = await import_dir(session, DEMO_DIR)
        now = SystemClock().now()
        needs = await import_demo_needs(session, DEMO_DIR, now)
        await bring_demo_classes_forward(session, now)
    log.info("empty database: demo knowledge imported", extra={"summary": report.summary(), "needs": needs})
    return True


async def prepare_knowledge(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> bool:
    """At start: the demo imported into an empty database when the setting asks for it (with a
    warning in production: its experts are not real people); otherwise an empty database is
    left empty and the log says how to fill it. True when the demo was imported."""
    if settings.import_demo_when_empty:
        imported = await import_demo_if_empty(sessions)
        if imported and settings.env == "production":
            log.warning(
                "CRAFTDESK_ENV=production with CRAFTDESK_IMPORT_DEMO_WHEN_EMPTY=true: the demo's "
                "made-up experts and sites were imported and tickets will be routed to them"
            )
        return imported
    if await knowledge_is_empty(sessions):
        log.warning(EMPTY_HINT)
    return False


def make_encoder(settings: Settings) -> Encoder:
    return load_encoder(
        settings.embedding_model,
        settings.model_cache_dir,
        backend=settings.embedding_backend,
        threads=settings.encoder_threads,
    )


def index_store(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], encoder: Encoder, clock: Clock
) -> IndexStore | None:
    """The index versions in PostgreSQL when ``CRAFTDESK_INDEX_STORE=database``; None: the data dir."""
    if settings.index_store != "database":
        return None
    return IndexStore(
        sessions,
        IndexHolder(settings.index_dir, encoder.model_id),
        encoder,
        settings.instance_id,
        clock,
        keep=settings.index_keep_versions,
        dsn=listen_dsn(settings.db_url),
    )


def ticket_feed(
    settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> TicketFeed:
    """The live ticket changes; on PostgreSQL other instances' too (LISTEN)."""
    postgres = engine.dialect.name == "postgresql"
    return TicketFeed(sessions, listen_dsn(settings.db_url) if postgres else None)


def photo_store(settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> PhotoStore:
    """Photos in PostgreSQL when ``CRAFTDESK_PHOTO_STORE=database``; else files in the data dir."""
    if settings.photo_store == "database":
        return DatabasePhotos(sessions, clock)
    return DiskPhotos(settings.uploads_dir)


async def prepare_index(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    encoder: Encoder,
    store: IndexStore | None = None,
) -> IndexHolder:
    """Build the index when none exists; otherwise load it. A broken one leaves the service
    degraded (every question routed) with the way to fix it in the log. With ``store``: the
    newest stored version (built only when none is)."""
    if store is not None:
        await store.prepare(settings.index_poll_seconds, log_progress())
        return store.holder
    holder = IndexHolder(settings.index_dir, encoder.model_id)
    stale = outdated(settings.index_dir, encoder.model_id)
    if current_version(settings.index_dir) is None or stale:
        log.info(
            "building the search index before serving: %s",
            f"the index on disk is outdated: {stale}" if stale else "no index yet",
        )
        holder.swap(await rebuild_index(sessions, encoder, settings.index_dir, log_progress()))
        return holder
    if await asyncio.to_thread(holder.load) and holder.current is not None:
        async with sessions() as session:
            checksum = (await load_corpus(session)).checksum
        if checksum != holder.current.manifest.knowledge_checksum:
            log.warning("the index is older than the knowledge base; %s", REBUILD_HINT)
    return holder


def open_verifier(settings: Settings) -> Verifier | None:
    """The installed verifier when the setting turns it on; a missing or broken one is logged
    and the service runs without it (the policy decides)."""
    if not settings.retrieval.use_verifier:
        return None
    path = settings.data_dir / VERIFIER_DIRNAME
    try:
        verifier = load_verifier(path)
    except IndexUnavailableError as exc:
        log.error(
            "use_verifier is on but no usable verifier: the policy decides; install one "
            "with scripts/train_verifier.py --install",
            extra={"path": str(path), "error": str(exc)},
        )
        return None
    log.info(
        "verifier decides suggest and confirm",
        extra={
            "version": verifier.version,
            "suggest_threshold": verifier.suggest_threshold,
            "confirm_threshold": verifier.confirm_threshold,
            "candidates": settings.retrieval.verifier_candidates,
        },
    )
    return verifier


def ticket_policy(settings: Settings) -> TicketPolicy:
    return TicketPolicy(
        silence=timedelta(minutes=settings.tickets.silence_minutes),
        remind_before=timedelta(minutes=settings.tickets.remind_before_minutes),
        answer_timeout=timedelta(minutes=settings.tickets.answer_timeout_minutes),
        city_region=settings.tickets.city_region,
    )


async def _every(seconds: float, work: Callable[[], Awaitable[object]], what: str) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()
        except Exception:
            log.exception("%s failed", what)


async def reassign_silent(context: AppContext) -> int:
    async with context.sessions() as session:
        moved = await context.tickets.reassign_silent(session)
    if moved:
        log.info("silent tickets reassigned", extra={"count": moved})
    return moved


async def sweep_if_held(context: AppContext) -> int:
    """The silence sweep, on the one instance holding the ``sweep`` lease (renewed each tick)."""
    if not await context.sweep_lease.acquire_or_renew():
        return 0
    return await reassign_silent(context)


def sweep_lease(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: Clock, gate: WriteGate
) -> Lease:
    ttl = timedelta(seconds=settings.tickets.sweep_seconds * settings.tickets.sweep_lease_ticks)
    return Lease(sessions, "sweep", settings.instance_id, ttl, clock, gate)


@asynccontextmanager
async def open_context(
    settings: Settings,
    encoder: Encoder | None = None,
    clock: Clock | None = None,
    notifiers: Sequence[Notifier] = (),
) -> AsyncIterator[AppContext]:
    """Open everything; ``encoder`` may be passed in (tests share one across contexts), and
    ``clock`` (a fake one in tests). ``notifiers`` are the channel adapters of the outbox;
    with a bot token set, the Telegram channel is started too and its notifier added."""
    # resolved once here, so the web app, the bot and the scripts all see the same token
    settings = settings.model_copy(update={"admin_token": resolve_admin_token(settings)})
    async with database(settings) as (engine, sessions):
        await prepare_knowledge(settings, sessions)
        if encoder is None:
            encoder = await asyncio.to_thread(make_encoder, settings)
        clock = clock or SystemClock()
        store = index_store(settings, sessions, encoder, clock)
        holder = await prepare_index(settings, sessions, encoder, store)
        calibration = Calibration.load()
        if calibration.model_id != encoder.model_id:
            log.warning(
                "decision policy was calibrated for another model; run scripts/evaluate.py --calibrate",
                extra={"calibrated_for": calibration.model_id, "model": encoder.model_id},
            )
        verifier = await asyncio.to_thread(open_verifier, settings)
        retriever = await asyncio.to_thread(Retriever, encoder, calibration, settings.retrieval, verifier)
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
        shared = SharedState.open(redis_url)
        log.info("shared state", extra={"where": shared.where, "instance": settings.instance_id})
        photos = photo_store(settings, sessions, clock)
        telegram = None
        if settings.telegram.enabled:
            from bot.telegram.channel import TelegramChannel

            telegram = TelegramChannel(settings, sessions, seen_updates=shared.updates, photos=photos)
            notifiers = [*notifiers, telegram.notifier]
        secret = resolve_admin_token(settings).get_secret_value()
        wechat = open_wechat(settings, secret, sessions, clock, shared.pool, shared.updates)
        if wechat is not None:
            notifiers = [*notifiers, *wechat.notifiers]
        gate = WriteGate(engine)
        classes = ClassCatalogue(encoder)
        tickets = TicketService(clock, ticket_policy(settings), photos, gate)
        context = AppContext(
            settings=settings,
            engine=engine,
            sessions=sessions,
            clock=clock,
            encoder=encoder,
            index=holder,
            retriever=retriever,
            ask=AskService(retriever, holder, tickets, gate, classes=classes.holder),
            tickets=tickets,
            needs=NeedsService(clock, photos, gate),
            publisher=Publisher(encoder, holder, clock, store),
            reindexer=Reindexer(sessions, encoder, holder, store, settings.instance_id, clock),
            outbox=OutboxDispatcher(
                sessions,
                notifiers,
                clock=clock,
                gate=gate,
                holder=settings.instance_id,
                claim_seconds=settings.outbox_claim_seconds,
            ),
            limits=make_limits(settings.rate_limit, shared.limits),
            shared=shared,
            sweep_lease=sweep_lease(settings, sessions, clock, gate),
            telegram=telegram,
            classes=classes,
            door=DoorCodes(resolve_admin_token(settings).get_secret_value()),
            index_store=store,
            ticket_feed=ticket_feed(settings, engine, sessions),
            wechat=wechat,
        )
        if context.ticket_feed is not None:
            await context.ticket_feed.start(engine)
        await refresh_classes(context)
        follow = store.follow if store is not None else holder.follow  # the table, or the data dir
        background = [
            asyncio.create_task(follow(settings.index_poll_seconds)),
            asyncio.create_task(
                _every(settings.tickets.sweep_seconds, lambda: sweep_if_held(context), "silence sweep")
            ),
            asyncio.create_task(context.outbox.run()),
            asyncio.create_task(
                _every(CLASS_POLL_SECONDS, lambda: refresh_classes(context), "class refresh")
            ),
        ]
        if telegram is not None:
            await telegram.start(bot_services(context))
        try:
            yield context
        finally:
            if context.ticket_feed is not None:
                await context.ticket_feed.close()
            if telegram is not None:
                await telegram.stop()
            if wechat is not None:
                await wechat.aclose()
            await context.reindexer.close()
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):  # the database may be gone: the lease then lapses
                await context.sweep_lease.release()
            await shared.close()
