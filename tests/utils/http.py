"""An HTTP client of a test context's app as seen from a given address (the ASGI peer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from bot.app import create_app


@asynccontextmanager
async def client_from(context, address: str) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=create_app(context.settings, context), client=(address, 4321))
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
