"""Helpers shared by the entry points (``python -m bot`` and ``scripts/``): settings, database
set-up and the translation of domain errors into a one-line message and an exit code."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.logs import setup_logging
from bot.settings import Settings
from knowledge.db import make_engine, make_sessionmaker, migrate
from knowledge.errors import CraftdeskError

T = TypeVar("T")
log = logging.getLogger(__name__)


def load_settings() -> Settings:
    """Settings from the environment; invalid settings end the process with a clear message."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"CRAFTDESK_{'__'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise SystemExit(f"error: invalid settings: {problems}") from None


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[tuple[AsyncEngine, async_sessionmaker[AsyncSession]]]:
    """An engine with the schema migrated to head, disposed on exit."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    try:
        await migrate(engine)
        yield engine, make_sessionmaker(engine)
    finally:
        await engine.dispose()


def run_cli(main: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    """Run a script's async main; domain errors become ``error: ...`` and exit code 1."""
    settings = load_settings()
    setup_logging(settings.log_level)
    try:
        return asyncio.run(main(settings))
    except CraftdeskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
