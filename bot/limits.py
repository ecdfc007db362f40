"""Rate limits, shared by the web API (per client, address and site, wrong tokens per address)
and the Telegram channel (messages per user), over the maintained ``limits`` library: a moving
window, at most N hits per key in any 60 seconds. No web or bot framework here, so both
channels can use it without importing each other.

Where the hits are kept: in Redis when ``CRAFTDESK_REDIS_URL`` is set, so every instance behind
the load balancer counts against the same budget (a list per key, ``craftdesk:limits:...``,
expiring 60 s after its last hit); otherwise in this process's memory (the same library's
memory storage, which forgets a key once its window has passed). If Redis cannot be reached the
limits let requests through and say so in the log, rather than refusing every worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from bot.settings import RateLimitSettings

log = logging.getLogger(__name__)

KEY_PREFIX = "craftdesk:limits"
OUTAGE_LOG_SECONDS = 60.0  # one warning a minute while the storage is unreachable


def open_storage(redis_url: str | None, pool: Any = None) -> Storage:
    """Redis (``redis://``, ``rediss://`` or ``unix://`` URL) when given, else memory. ``pool``:
    a ``redis.asyncio.ConnectionPool`` of that URL for the storage to use, so that its owner can
    close the connections (the library has no close of its own). The client is redis-py's
    (``limits[redis]``): about a third less CPU per call than coredis, measured."""
    if redis_url is None:
        return MemoryStorage()
    if redis_url.startswith("unix://"):
        redis_url = "redis+" + redis_url
    options = {"connection_pool": pool} if pool is not None else {}
    return RedisStorage(
        f"async+{redis_url}", wrap_exceptions=True, key_prefix=KEY_PREFIX, implementation="redispy", **options
    )


class Budget:
    """One named limit: ``per_minute`` hits per key in any 60 seconds. ``clock`` is the wall
    clock the storage also reads (``time.time``); the waits are computed from it."""

    def __init__(
        self,
        name: str,
        per_minute: int,
        storage: Storage,
        clock: Callable[[], float] = time.time,
    ):
        self.name = name
        self.item = RateLimitItemPerMinute(per_minute, namespace=name)
        self.limiter = MovingWindowRateLimiter(storage)
        self.clock = clock
        self._outage_logged = float("-inf")

    async def wait(self, key: str) -> float:
        """Seconds until ``key`` may have a hit (0: now); changes nothing."""
        try:
            if await self.limiter.test(self.item, key):
                return 0.0
            return await self._until_free(key)
        except StorageError as exc:
            return self._unreachable(exc)

    async def take(self, key: str) -> float:
        """0 when allowed (the hit is counted), else the seconds to wait (nothing counted)."""
        try:
            if await self.limiter.hit(self.item, key):
                return 0.0
            return await self._until_free(key)
        except StorageError as exc:
            return self._unreachable(exc)

    async def _until_free(self, key: str) -> float:
        """When the oldest hit in the window leaves it (at least a moment from now)."""
        stats = await self.limiter.get_window_stats(self.item, key)
        return max(stats.reset_time - self.clock(), 0.001)

    def _unreachable(self, exc: StorageError) -> float:
        now = time.monotonic()
        if now - self._outage_logged >= OUTAGE_LOG_SECONDS:
            self._outage_logged = now
            log.warning(
                "rate limit storage unreachable: requests pass unlimited",
                extra={"limit": self.name, "error": str(exc.storage_error)},
            )
        return 0.0


def make_limits(settings: RateLimitSettings, storage: Storage) -> dict[str, Budget]:
    """The budgets by name: ``ask``, ``tickets``, ``messages`` per client, ``<name>_address``
    per address, ``ask_site`` per site, ``auth_failures`` per address."""
    per_minute = {
        "ask": settings.ask_per_minute,
        "tickets": settings.tickets_per_minute,
        "messages": settings.messages_per_minute,
        "ask_address": settings.ask_per_address_per_minute,
        "tickets_address": settings.tickets_per_address_per_minute,
        "messages_address": settings.messages_per_address_per_minute,
        "ask_site": settings.ask_per_site_per_minute,
        "auth_failures": settings.auth_failures_per_minute,
    }
    return {name: Budget(name, limit, storage) for name, limit in per_minute.items()}
