"""Who is calling, and whether they may: worker ticket tokens, expert, steward and admin bearer
tokens, and the rate limits of the anonymous calls. The services themselves come from
``bot.providers``.

Missing or wrong bearer token -> 401; a valid token of another role -> 403. The admin pages
take the administrator (everywhere) or a steward (``Staff``: the sites of their stations and
regions; anything outside them is 403). Wrong tokens are counted per address; past
``auth_failures_per_minute`` the address gets 429 before its token is looked at, so tokens
cannot be guessed online.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from bot.limits import Budget
from bot.providers import ClockDep, LimitsDep, SessionDep, SettingsDep, WeChatDep
from bot.service.ask import asker_key
from bot.service.experts import expert_for_token
from bot.service.secrets import same_secret
from bot.service.stewards import scope_sites, steward_for_token
from bot.service.wechat_identity import COOKIE_NAME, wechat_asker
from bot.settings import Settings
from bot.web.ratelimit import admit, named_site, request_client, too_many, web_client_id
from knowledge.errors import AccessDeniedError
from knowledge.models import Expert, Steward
from knowledge.states import Channel


def _admin_secret(settings: Settings) -> str:
    """The admin token: ``open_context`` has resolved it (the setting, or the generated file)."""
    if settings.admin_token is None:
        raise RuntimeError("the admin token was not resolved at start")
    return settings.admin_token.get_secret_value()


def bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


AuthorizationHeader = Annotated[str | None, Header(alias="Authorization")]


async def auth_throttle(request: Request, settings: SettingsDep, limits: LimitsDep) -> str:
    """429 for an address that sent too many wrong tokens; else the address to charge."""
    address, _ = request_client(request, settings.rate_limit)
    if (wait := await limits["auth_failures"].wait(address)) > 0:
        raise too_many("wrong tokens from this address", wait)
    return address


ThrottledAddress = Annotated[str, Depends(auth_throttle)]


async def _invalid_token(limits: dict[str, Budget], address: str) -> HTTPException:
    await limits["auth_failures"].take(address)
    return HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})


@dataclass(frozen=True)
class Staff:
    """Who works the admin pages: the administrator (``steward`` None, every site) or a steward
    (the sites of their stations and regions)."""

    steward: Steward | None
    sites: frozenset[str] | None  # None: every site

    def sees(self, site_code: str | None) -> bool:
        return self.sites is None or (site_code is not None and site_code in self.sites)

    def check(self, site_code: str | None) -> None:
        """403 unless the site is in scope (a ticket or question of no site is the admin's)."""
        if not self.sees(site_code):
            raise AccessDeniedError("outside the stations and regions this steward looks after")


async def require_staff(
    address: ThrottledAddress,
    settings: SettingsDep,
    limits: LimitsDep,
    clock: ClockDep,
    session: SessionDep,
    authorization: AuthorizationHeader = None,
) -> Staff:
    token = bearer(authorization)
    if same_secret(token, _admin_secret(settings)):
        return Staff(None, None)
    if (steward := await steward_for_token(session, token, clock)) is not None:
        return Staff(steward, await scope_sites(session, steward))
    if await expert_for_token(session, token, clock.now()) is not None:
        raise HTTPException(403, "this needs the admin or a steward token")
    raise await _invalid_token(limits, address)


async def require_admin(staff: Annotated[Staff, Depends(require_staff)]) -> None:
    """The administrator only: a steward gets 403."""
    if staff.steward is not None:
        raise HTTPException(403, "this needs the admin token")


async def require_expert(
    address: ThrottledAddress,
    settings: SettingsDep,
    limits: LimitsDep,
    clock: ClockDep,
    session: SessionDep,
    authorization: AuthorizationHeader = None,
) -> Expert:
    token = bearer(authorization)
    expert = await expert_for_token(session, token, clock.now())
    if expert is not None:
        return expert
    if same_secret(token, _admin_secret(settings)) or await steward_for_token(session, token, clock):
        raise HTTPException(403, "this needs an expert token")
    raise await _invalid_token(limits, address)


AdminDep = Annotated[None, Depends(require_admin)]
StaffDep = Annotated[Staff, Depends(require_staff)]
ExpertDep = Annotated[Expert, Depends(require_expert)]
TicketToken = Annotated[str | None, Header(alias="X-Ticket-Token")]


async def wechat_worker(request: Request, wechat: WeChatDep, clock: ClockDep) -> str | None:
    """The openid of a worker the service account identified (the ``craftdesk_wx`` cookie this
    server signed); None without one, or with the service account off."""
    if wechat is None or wechat.account is None:
        return None
    return wechat.signer.openid(request.cookies.get(COOKIE_NAME), clock.now())


WeChatWorker = Annotated[str | None, Depends(wechat_worker)]


async def web_asker(request: Request, openid: WeChatWorker) -> str | None:
    """Who asks in the web chat, as stored on the question: the WeChat worker (one on every
    phone), else ``asker_key`` of the browser's id."""
    if openid is not None:
        return wechat_asker(openid)
    return asker_key(Channel.WEB, web_client_id(request))


WebAsker = Annotated[str | None, Depends(web_asker)]


def rate_limited(name: str) -> Callable[..., Awaitable[None]]:
    """A dependency enforcing the limit ``name`` (ask, tickets, messages) per client and per
    address and, for ask and tickets, the ask budget of the site the JSON body names."""

    async def check(request: Request, settings: SettingsDep, limits: LimitsDep) -> None:
        address, client = request_client(request, settings.rate_limit)
        checks = [
            (f"{name} per client", limits[name], client),
            (f"{name} per address", limits[f"{name}_address"], address),
        ]
        if name in ("ask", "tickets") and (site := await named_site(request)) is not None:
            checks.append(("ask per site", limits["ask_site"], site))
        await admit(checks)

    return check
