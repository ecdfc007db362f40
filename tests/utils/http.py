"""The app of a test context, with some of its services replaced the framework's way
(``app.dependency_overrides``), and an HTTP client of it as seen from a given address (the ASGI
peer)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from bot.app import create_app
from bot.limits import TokenBucket
from bot.providers import get_limits, get_settings
from bot.settings import Settings


def providing(value: object) -> Callable[[], Coroutine[Any, Any, object]]:
    """A dependency that gives ``value``: for ``app.dependency_overrides``."""

    async def provide() -> object:
        return value

    return provide


def app_of(
    context,
    limits: dict[str, TokenBucket] | None = None,  # type: ignore[no-untyped-def]
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
    limits: dict[str, TokenBucket] | None = None,  # type: ignore[no-untyped-def]
    settings: Settings | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_of(context, limits, settings), client=(address, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


class FakeTime:
    """A monotonic clock for token buckets that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
