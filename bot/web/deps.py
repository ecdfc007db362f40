"""Typed dependencies for the routes: the per-process context, a per-request DB session,
callers' identities (worker ticket token, expert and admin bearer tokens) and rate limits.

Missing or wrong bearer token -> 401; a valid token of the other role -> 403.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import AppContext
from bot.service.experts import expert_for_token
from bot.service.secrets import same_secret
from bot.web.ratelimit import enforce
from knowledge.models import Expert


def get_context(request: Request) -> AppContext:
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


async def require_admin(context: ContextDep, session: SessionDep,
                        authorization: AuthorizationHeader = None) -> None:
    token = _bearer(authorization)
    if same_secret(token, context.settings.admin_token.get_secret_value()):
        return
    if await expert_for_token(session, token) is not None:
        raise HTTPException(403, "this needs the admin token")
    raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})


async def require_expert(context: ContextDep, session: SessionDep,
                         authorization: AuthorizationHeader = None) -> Expert:
    token = _bearer(authorization)
    expert = await expert_for_token(session, token)
    if expert is not None:
        return expert
    if same_secret(token, context.settings.admin_token.get_secret_value()):
        raise HTTPException(403, "this needs an expert token")
    raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})


AdminDep = Annotated[None, Depends(require_admin)]
ExpertDep = Annotated[Expert, Depends(require_expert)]
TicketToken = Annotated[str | None, Header(alias="X-Ticket-Token")]


def rate_limited(name: str) -> Callable[..., None]:
    """A dependency enforcing the limit ``name`` (ask, tickets, messages) per client."""

    def check(request: Request, context: ContextDep) -> None:
        enforce(context.limits[name], request, context.settings.rate_limit.trust_forwarded_for)

    return check
