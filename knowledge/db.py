"""Engine and session factory, and migrations applied through Alembic.

The engine is built once per process by the composition root; sessions are per request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The advisory lock key of the schema upgrade on PostgreSQL: any number, the same in every instance.
MIGRATION_LOCK_KEY = 0x6372616674647368


def make_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True)


class WriteGate:
    """Serializes writes on SQLite inside one process. SQLite has one writer at a time and
    makes the others retry with sleeps of up to 100 ms; under 16 concurrent writers that put
    the 99th percentile of a question's insert at ~360 ms (measured). Waiting in an in-process
    queue instead keeps it at ~35 ms. Other databases lock rows, not the file: no gate.

    The session's pooled connection is taken *before* the gate: a holder of the gate then never
    waits for the pool while the connections are held by requests queued on the gate (that
    ordering deadlocked the server at about 20 concurrent clients)."""

    def __init__(self, engine: AsyncEngine | None):
        """``None``: no gate (a service used without an engine at hand, as in unit tests)."""
        self._lock = asyncio.Lock() if engine is not None and engine.dialect.name == "sqlite" else None

    @contextlib.asynccontextmanager
    async def writing(self, session: AsyncSession) -> AsyncIterator[None]:
        if self._lock is None:
            yield
            return
        await session.connection()
        async with self._lock:
            yield


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (idempotent).

    On PostgreSQL, instances starting at once take turns: the upgrade runs under a transaction
    advisory lock, so the first one migrates and the others wait for its commit, then find the
    schema at head and do nothing. SQLite serves one process, whose file lock is enough."""

    def _upgrade(sync_conn: Connection) -> None:
        if sync_conn.dialect.name == "postgresql":
            sync_conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        command.upgrade(alembic_config(sync_conn), "head")

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
