"""State that several instances behind one load balancer must share: in Redis when
``CRAFTDESK_REDIS_URL`` is set, in this process's memory when not (one instance: as before).

- the rate limits' hits (``bot.limits``: keys ``craftdesk:limits:...``, a list per key expiring
  60 s after its last hit);
- the Telegram webhook's update ids (``craftdesk:tg-update:<bot>:<update id>``): Telegram sends
  an update again when its first delivery was not acknowledged in time (a slow answer, a
  restart), possibly to another instance; the second delivery is acknowledged and dropped. A key
  reads ``handling`` for ``HANDLING_SECONDS`` while the first delivery is worked on, ``done`` for
  ``DONE_SECONDS`` once it was handled, and is deleted when handling failed, so Telegram's next
  try is handled.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from limits.aio.storage import Storage

from bot.limits import open_storage

HANDLING_SECONDS = 120  # longer than any update takes; after a crash mid-update the next try works
DONE_SECONDS = 24 * 3600  # Telegram keeps an unacknowledged update for a day
MEMORY_UPDATES = 50_000  # update ids one process remembers (the oldest forgotten first)
UPDATE_PREFIX = "craftdesk:tg-update"


class SeenUpdates(Protocol):
    async def begin(self, key: str) -> bool:
        """True when nobody is handling or has handled ``key``: it is now ours."""
        ...

    async def finish(self, key: str, handled: bool) -> None:
        """Remember ``key`` as handled, or (``handled`` False) forget it for a retry."""
        ...


class MemorySeenUpdates:
    """One process's update ids, with their expiry (``clock``: seconds, monotonic)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, size: int = MEMORY_UPDATES):
        self.clock = clock
        self.size = size
        self.until: OrderedDict[str, float] = OrderedDict()

    async def begin(self, key: str) -> bool:
        now = self.clock()
        if self.until.get(key, now) > now:
            return False
        self._keep(key, now + HANDLING_SECONDS)
        return True

    async def finish(self, key: str, handled: bool) -> None:
        if handled:
            self._keep(key, self.clock() + DONE_SECONDS)
        else:
            self.until.pop(key, None)

    def _keep(self, key: str, until: float) -> None:
        self.until[key] = until
        self.until.move_to_end(key)
        while len(self.until) > self.size:
            self.until.popitem(last=False)


class RedisSeenUpdates:
    """The update ids of every instance, in Redis (``SET NX`` with an expiry)."""

    def __init__(self, pool: Any):
        from redis.asyncio import Redis

        self.redis = Redis(connection_pool=pool)

    async def begin(self, key: str) -> bool:
        name = f"{UPDATE_PREFIX}:{key}"
        return bool(await self.redis.set(name, "handling", nx=True, ex=HANDLING_SECONDS))

    async def finish(self, key: str, handled: bool) -> None:
        name = f"{UPDATE_PREFIX}:{key}"
        if handled:
            await self.redis.set(name, "done", ex=DONE_SECONDS)
        else:
            await self.redis.delete(name)


@dataclass
class SharedState:
    """What the composition root builds from ``redis_url`` (None: this process's memory)."""

    limits: Storage
    updates: SeenUpdates
    pool: Any = None  # redis-py's connection pool, when in Redis

    @classmethod
    def open(cls, redis_url: str | None) -> SharedState:
        """Nothing connects yet: the first use does (a Redis that is down at start is no
        reason not to start)."""
        if redis_url is None:
            return cls(open_storage(None), MemorySeenUpdates())
        from redis.asyncio import ConnectionPool

        pool = ConnectionPool.from_url(redis_url)
        return cls(open_storage(redis_url, pool), RedisSeenUpdates(pool), pool)

    @property
    def where(self) -> str:
        """For the log: ``redis`` or ``memory``."""
        return "memory" if self.pool is None else "redis"

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()
