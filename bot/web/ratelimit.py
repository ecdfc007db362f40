"""Per-client rate limits for the anonymous calls: a token bucket per (limit, address);
over the limit the answer is 429 with Retry-After."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from fastapi import HTTPException, Request


class TokenBucket:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 100_000):
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.max_clients = max_clients
        self.buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """0 when allowed, else the seconds to wait."""
        now = self.clock()
        tokens, last = self.buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens < 1:
            self.buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        if len(self.buckets) >= self.max_clients and key not in self.buckets:
            self.buckets.clear()  # bounded memory; forgetting only lets clients through
        self.buckets[key] = (tokens - 1, now)
        return 0.0


def client_address(request: Request, trust_forwarded: bool) -> str:
    if trust_forwarded and (forwarded := request.headers.get("x-forwarded-for")):
        return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


def enforce(bucket: TokenBucket, request: Request, trust_forwarded: bool) -> None:
    wait = bucket.take(client_address(request, trust_forwarded))
    if wait > 0:
        raise HTTPException(
            status_code=429,
            detail=f"too many requests; try again in {math.ceil(wait)} seconds",
            headers={"Retry-After": str(math.ceil(wait))},
        )
