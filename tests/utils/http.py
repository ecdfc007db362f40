"""The app of a test context, with some of its services replaced the framework's way
(``app.dependency_overrides``), and an HTTP client of it as seen from a given address (the ASGI
peer)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import limits.aio.storage.memory
import pytest
from fastapi import FastAPI
from limits.aio.storage import MemoryStorage

from bot.app import create_app
from bot.limits import Budget
from bot.providers import get_limits, get_settings
from bot.settings import Settings


def providing(value: object) -> Callable[[], Coroutine[Any, Any, object]]:
    """A dependency that gives ``value``: for ``app.dependency_overrides``."""

    async def provide() -> object:
        return value

    return provide


def app_of(
    context,
    limits: dict[str, Budget] | None = None,  # type: ignore[no-untyped-def]
    settings: Settings | None = None,
) -> FastAPI:
    """The context's app; ``limits`` and ``settings`` replace the context's own."""
    app = create_app(context.settings, context)
    if limits is not None:
        app.dependency_overrides[get_limits] = providing(limits)
    if settings is not None:
        app.dependency_overrides[get_settings] = providing(settings)
    return app


@asynccontextmanager
async def client_from(
    context,
    address: str,
    limits: dict[str, Budget] | None = None,  # type: ignore[no-untyped-def]
    settings: Settings | None = None,
    app: FastAPI | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` (default: a new app of the context, ``limits`` and ``settings``)
    calling from ``address``; tests that call from many addresses build the app once."""
    app = app or app_of(context, limits, settings)
    transport = httpx.ASGITransport(app=app, client=(address, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


class FakeTime:
    """A clock (seconds) for the rate limits that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limits_on(monkeypatch: pytest.MonkeyPatch, clock: FakeTime) -> None:
    """Make the ``limits`` library's memory storage read ``clock``: it reads the wall clock
    through its module's ``time``, its only seam for a fake one."""
    monkeypatch.setattr(limits.aio.storage.memory, "time", SimpleNamespace(time=clock))


def budget(name: str, per_minute: int, clock: FakeTime | None = None) -> Budget:
    """A budget in a memory storage of its own, as ``CRAFTDESK_RATE_LIMIT__...=per_minute``
    would make; on ``clock`` when given (with ``limits_on``)."""
    if clock is None:
        return Budget(name, per_minute, MemoryStorage())
    return Budget(name, per_minute, MemoryStorage(), clock=clock)
