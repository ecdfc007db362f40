"""Access tokens of the service account and the WeCom app, fetched once and kept.

A token lives ``expires_in`` seconds (7200 today); it is kept until ``MARGIN_SECONDS`` before
that, then fetched again. Concurrent callers wait for one fetch (an asyncio lock per cache).
With Redis (``SharedState.pool``) the token is shared by every instance under
``craftdesk:wechat-token:<kind>:<app>`` with that lifetime as its expiry, and a short
``...:refresh`` lock key lets one instance fetch while the others wait for its result: the
service account's ``/cgi-bin/token`` retires the previous token a few minutes after it issues a
new one, so instances fetching on their own would keep pushing each other's tokens out.

``invalidate(token)`` forgets a token the platform refused (40001, 40014, 42001), unless
another caller replaced it already. A Redis that cannot be reached falls back to this process's
memory (logged), as the rate limits do. Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PREFIX = "craftdesk:wechat-token"
MARGIN_SECONDS = 300  # refreshed this long before the platform's expiry
REFRESH_LOCK_SECONDS = 10  # one instance fetches; the lock outlives a hung fetch by no more than this
WAIT_SECONDS = 5  # how long another instance's fetch is waited for before fetching anyway
POLL_SECONDS = 0.05

# delete KEYS[1] only while it still holds ARGV[1] (the refused token, our refresh lock)
_DELETE_IF_SAME = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)

Fetch = Callable[[], Awaitable[tuple[str, float]]]  # -> (token, expires_in seconds)


def lifetime(expires_in: float) -> float:
    """How long a token is kept: until ``MARGIN_SECONDS`` before it expires; half its life
    when it is shorter than that."""
    return max(expires_in - MARGIN_SECONDS, expires_in / 2)


class TokenCache:
    """The access token of one app (``kind``: ``mp`` or ``wecom``; ``app``: app id or corp id
    plus agent id), from ``fetch`` when none is kept."""

    def __init__(
        self,
        kind: str,
        app: str,
        fetch: Fetch,
        pool: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.key = f"{PREFIX}:{kind}:{app}"
        self.fetch = fetch
        self.clock = clock
        self.token: str | None = None
        self.until = 0.0
        self.lock = asyncio.Lock()
        self.redis: Any = None
        if pool is not None:
            from redis.asyncio import Redis

            self.redis = Redis(connection_pool=pool)

    async def get(self) -> str:
        """A token that is not about to expire (fetched now when none is kept)."""
        if token := await self._kept():
            return token
        async with self.lock:
            if token := await self._kept():
                return token
            return await self._refresh()

    async def invalidate(self, token: str) -> None:
        """Forget ``token`` (refused by the platform), unless a newer one is kept already."""
        if self.token == token:
            self.token = None
        if self.redis is not None:
            try:
                await self.redis.eval(_DELETE_IF_SAME, 1, self.key, token)
            except RedisError as exc:
                log.warning(
                    "wechat token: redis unreachable, invalidated in memory only", extra={"error": str(exc)}
                )

    async def _kept(self) -> str | None:
        if self.redis is not None:
            try:
                value = await self.redis.get(self.key)
            except RedisError as exc:
                log.warning("wechat token: redis unreachable, kept in memory", extra={"error": str(exc)})
            else:
                return value.decode() if value is not None else None
        if self.token is not None and self.clock() < self.until:
            return self.token
        return None

    async def _refresh(self) -> str:
        if self.redis is None:
            return await self._fetch_and_keep()
        mine = secrets.token_hex(8)
        lock_key = f"{self.key}:refresh"
        try:
            locked = await self.redis.set(lock_key, mine, nx=True, ex=REFRESH_LOCK_SECONDS)
            if not locked:
                if token := await self._wait_for_other():
                    return token
        except RedisError as exc:
            log.warning("wechat token: redis unreachable, fetching alone", extra={"error": str(exc)})
            return await self._fetch_and_keep()
        try:
            return await self._fetch_and_keep()
        finally:
            try:
                await self.redis.eval(_DELETE_IF_SAME, 1, lock_key, mine)
            except RedisError:
                pass  # it expires by itself

    async def _wait_for_other(self) -> str | None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
            value = await self.redis.get(self.key)
            if value is not None:
                return str(value.decode())
        return None

    async def _fetch_and_keep(self) -> str:
        token, expires_in = await self.fetch()
        keep = lifetime(expires_in)
        self.token, self.until = token, self.clock() + keep
        if self.redis is not None:
            try:
                await self.redis.set(self.key, token, px=max(1, int(keep * 1000)))
            except RedisError as exc:
                log.warning("wechat token: redis unreachable, kept in memory", extra={"error": str(exc)})
        log.info("wechat token fetched", extra={"token_key": self.key, "keep_seconds": round(keep)})
        return token
