"""Typed dependencies for the routes: the per-process context, a per-request DB session,
callers' identities (worker ticket token, expert and admin bearer tokens) and rate limits.

Missing or wrong bearer token -> 401; a valid token of the other role -> 403. Wrong tokens
are counted per address; past ``auth_failures_per_minute`` the address gets 429 before its
token is looked at, so tokens cannot be guessed online.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import AppContext
from bot.service.experts import expert_for_token
from bot.service.secrets import same_secret
from bot.web.ratelimit import admit, named_site, request_client, too_many
from knowledge.models import Expert


# The dependencies are coroutines even where they do not await: FastAPI runs a plain function
# in its thread pool, a hop that costs more than the work itself.
async def get_context(request: Request) -> AppContext:
    return request.app.state.context


ContextDep = Annotated[AppContext, Depends(get_context)]


async def get_session(context: ContextDep) -> AsyncIterator[AsyncSession]:
    async with context.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


AuthorizationHeader = Annotated[str | None, Header(alias="Authorization")]


async def auth_throttle(request: Request, context: ContextDep) -> str:
    """429 for an address that sent too many wrong tokens; else the address to charge."""
    address, _ = request_client(request, context.settings.rate_limit)
    if (wait := context.limits["auth_failures"].wait(address)) > 0:
        raise too_many("wrong tokens from this address", wait)
    return address


ThrottledAddress = Annotated[str, Depends(auth_throttle)]


def _invalid_token(context: AppContext, address: str) -> HTTPException:
    context.limits["auth_failures"].take(address)
    return HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})


async def require_admin(address: ThrottledAddress, context: ContextDep, session: SessionDep,
                        authorization: AuthorizationHeader = None) -> None:
    token = _bearer(authorization)
    if same_secret(token, context.settings.admin_token.get_secret_value()):
        return
    if await expert_for_token(session, token, context.clock.now()) is not None:
        raise HTTPException(403, "this needs the admin token")
    raise _invalid_token(context, address)


async def require_expert(address: ThrottledAddress, context: ContextDep, session: SessionDep,
                         authorization: AuthorizationHeader = None) -> Expert:
    token = _bearer(authorization)
    expert = await expert_for_token(session, token, context.clock.now())
    if expert is not None:
        return expert
    if same_secret(token, context.settings.admin_token.get_secret_value()):
        raise HTTPException(403, "this needs an expert token")
    raise _invalid_token(context, address)


AdminDep = Annotated[None, Depends(require_admin)]
ExpertDep = Annotated[Expert, Depends(require_expert)]
TicketToken = Annotated[str | None, Header(alias="X-Ticket-Token")]


def rate_limited(name: str) -> Callable[..., Awaitable[None]]:
    """A dependency enforcing the limit ``name`` (ask, tickets, messages) per client and per
    address and, for ask and tickets, the ask budget of the site the JSON body names."""

    async def check(request: Request, context: ContextDep) -> None:
        address, client = request_client(request, context.settings.rate_limit)
        checks = [(f"{name} per client", context.limits[name], client),
                  (f"{name} per address", context.limits[f"{name}_address"], address)]
        if name in ("ask", "tickets") and (site := await named_site(request)) is not None:
            checks.append(("ask per site", context.limits["ask_site"], site))
        admit(checks)

    return check
