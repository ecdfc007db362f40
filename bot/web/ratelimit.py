"""Rate limits of the anonymous calls and of wrong bearer tokens: budgets (``bot.limits``: at
most N in any minute) keyed by the client (address plus the web chat's ``X-Client-Id``), the
address and the site; over a limit the answer is 429 with Retry-After.

The address is the TCP peer unless that peer is a trusted proxy; then X-Forwarded-For is read
from the right (the part our proxies wrote), because everything left of it is what the client
chose to send.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Sequence
from functools import lru_cache

from fastapi import HTTPException, Request

from bot.limits import Budget
from bot.settings import RateLimitSettings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_SITE_KEY = 64  # site codes are short; a longer value must not grow the table


@lru_cache(maxsize=16)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _parse(text: str) -> Address | None:
    """An address as proxies write it (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``); None if not."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted_proxies: Sequence[str]) -> str:
    """The client's address: the peer, or when the peer is a trusted proxy the right-most
    X-Forwarded-For hop that is not one. A malformed hop ends the walk at the last trusted
    address, which is then the key: never a value the client could have chosen."""
    address = _parse(peer or "")
    if address is None:
        return peer or "unknown"
    networks = _networks(tuple(trusted_proxies))
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    while any(address in network for network in networks) and hops:
        hop = _parse(hops.pop())
        if hop is None:
            break
        address = hop
    return str(address)


def request_client(request: Request, settings: RateLimitSettings) -> tuple[str, str]:
    """(address, client key): the key adds a well-formed ``X-Client-Id`` to the address."""
    address = client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        settings.trusted_proxies,
    )
    client_id = web_client_id(request)
    return address, f"{address} {client_id}" if client_id else address


def web_client_id(request: Request) -> str | None:
    """The web chat's own id for its browser (``X-Client-Id``, kept in local storage), if
    well-formed."""
    client_id = request.headers.get("x-client-id", "")
    return client_id if CLIENT_ID.fullmatch(client_id) else None


def too_many(what: str, wait: float) -> HTTPException:
    seconds = max(1, math.ceil(wait))
    return HTTPException(
        status_code=429,
        headers={"Retry-After": str(seconds)},
        detail=f"too many requests ({what}); try again in {seconds} seconds",
    )


async def admit(checks: Sequence[tuple[str, Budget, str]]) -> None:
    """Count one hit on each (what, budget, key), or on none: a request refused by one limit
    does not use up the others. Raises 429 naming the first limit that is exhausted.

    All are tested first, then all are hit. The small race this leaves: a request (on this
    or another instance) may take a budget's last hit between our test and our hit; we are
    then refused by that budget after the ones before it counted us, so a refused request can
    use up a hit of another budget. No budget is ever exceeded."""
    for what, budget, key in checks:
        if (wait := await budget.wait(key)) > 0:
            raise too_many(what, wait)
    for what, budget, key in checks:
        if (wait := await budget.take(key)) > 0:
            raise too_many(what, wait)


async def named_site(request: Request) -> str | None:
    """The ``site`` of a JSON body. FastAPI has read and parsed the body before it solves the
    dependencies and Starlette keeps the parsed value on the request, so this neither reads
    the stream again nor parses twice; a body that is not a JSON object names no site."""
    try:
        body = await request.json()
    except ValueError:
        return None
    site = body.get("site") if isinstance(body, dict) else None
    return site[:MAX_SITE_KEY] if isinstance(site, str) and site else None
