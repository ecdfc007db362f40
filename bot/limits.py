"""Token buckets: the rate limits of one process, shared by the web API (per client, address and
site) and the Telegram channel (per user). No web or bot framework here, so both channels can use
it without importing each other."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from bot.settings import RateLimitSettings


class TokenBucket:
    """Tokens per key, refilled continuously. Past ``max_clients`` keys the least recently
    used one is forgotten (forgetting only lets a quiet client start afresh)."""

    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_clients: int = 100_000
    ):
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.max_clients = max_clients
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self.buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - last) * self.rate)

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may take a token (0: now); changes nothing."""
        tokens = self._tokens(key, self.clock())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def take(self, key: str) -> float:
        """0 when allowed (a token is taken), else the seconds to wait."""
        now = self.clock()
        tokens = self._tokens(key, now)
        allowed = tokens >= 1
        self.buckets[key] = (tokens - 1 if allowed else tokens, now)
        self.buckets.move_to_end(key)
        while len(self.buckets) > self.max_clients:
            self.buckets.popitem(last=False)
        return 0.0 if allowed else (1 - tokens) / self.rate


def make_limits(settings: RateLimitSettings) -> dict[str, TokenBucket]:
    """The buckets of one process, by name: ``ask``, ``tickets``, ``messages`` per client,
    ``<name>_address`` per address, ``ask_site`` per site, ``auth_failures`` per address."""
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
    return {name: TokenBucket(limit) for name, limit in per_minute.items()}
