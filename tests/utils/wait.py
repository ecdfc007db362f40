"""Waiting for something another task or process does, without fixed sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[object]], timeout: float = 30, what: str = "the condition"
) -> object:
    """Poll ``check()`` until it returns something true, and return that; generous, since a
    loaded CI machine is slow, not wrong."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} never came true within {timeout} s")


def until(check: Callable[[], object], timeout: float = 30, what: str = "the condition") -> object:
    """``eventually`` for plain (sync) tests, such as the browser tests."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"{what} never came true within {timeout} s")
