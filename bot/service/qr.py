"""QR codes of sites: the web chat link of each site, and the Telegram deep link when a bot
is configured. The printable sheet of cards is ``bot.service.qr_sheet``."""

from __future__ import annotations

import io
import ipaddress
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

import qrcode
import qrcode.image.svg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import ConflictError, InvalidInputError, NotFoundError
from knowledge.models import Site


def site_url(public_url: str, site_code: str) -> str:
    return f"{public_url.rstrip('/')}/c/{site_code}"


def local_address(public_url: str) -> str | None:
    """What makes ``public_url`` unreachable from a worker's phone on the mobile network: "a
    loopback address", "a private address" ... or None for a public one. A hostname counts as
    public unless it is ``localhost`` (its DNS is the operator's business); an IP literal is
    judged by the ``ipaddress`` module (not globally routable: refused)."""
    try:
        host = (urlsplit(public_url).hostname or "").rstrip(".")
    except ValueError:  # e.g. an unbalanced "[" in the address
        return "not a valid URL"
    if not host:
        return "without a host name"
    if host == "localhost" or host.endswith(".localhost"):
        return "localhost (this machine only)"
    try:
        address = ipaddress.ip_address(host.partition("%")[0])  # an IPv6 zone is not part of it
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return None


def print_refusal(public_url: str, confirm_with: str = "intranet=true") -> str | None:
    """Why QR codes of ``public_url`` should not be printed without a confirmation (Chinese,
    then English), or None when they can be: ``confirm_with`` says how to confirm."""
    problem = local_address(public_url)
    if problem is None:
        return None
    return (
        f"二维码地址 {public_url} 是本机或内网地址，工人的手机多半打不开。请把 CRAFTDESK_PUBLIC_URL "
        f"设为二维码要印的 HTTPS 公网地址；如果这确实是厂区内网地址，请确认后再打印。 / "
        f"The public URL {public_url} is {problem}: workers' phones cannot open it. Set "
        f"CRAFTDESK_PUBLIC_URL to the HTTPS address the QR codes should carry, or, if it is "
        f"your intranet's address, confirm with {confirm_with}."
    )


def check_printable(public_url: str, intranet: bool, confirm_with: str = "intranet=true") -> None:
    """Refuse (ConflictError, 409 in the API) to print QR codes carrying a loopback, private or
    link-local address, which workers' phones cannot open, unless the steward confirmed that it
    is the factory intranet's address (``intranet``)."""
    refusal = None if intranet else print_refusal(public_url, confirm_with)
    if refusal is not None:
        raise ConflictError(refusal)


def telegram_link(bot_username: str, site_code: str) -> str:
    """The bot's deep link: Telegram sends ``/start {site_code}`` when the worker opens it.
    ``bot_username`` is bare: the setting drops an "@", getMe never has one."""
    name = bot_username.strip()
    if not name:
        raise InvalidInputError("bot: the Telegram bot username is empty")
    return f"https://t.me/{name}?start={site_code}"


def qr_png(data: str, box_size: int = 10) -> bytes:
    image = qrcode.make(data, box_size=box_size, border=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def qr_svg(data: str) -> bytes:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class SiteCard:
    """What one printed card shows for a site."""

    code: str
    name: str
    org: str | None
    url: str
    telegram: str | None = None


async def site_cards(
    session: AsyncSession,
    public_url: str,
    codes: list[str] | None = None,
    bot_username: str | None = None,
    within: Collection[str] | None = None,
) -> list[SiteCard]:
    """Cards for the given site codes (in that order), or for every active site by code (of
    ``within`` only, when given: a steward's sites)."""
    if codes:
        sites = []
        for code in codes:
            site = await session.get(Site, code)
            if site is None:
                raise NotFoundError(f"no site {code!r}")
            if not site.active:
                raise ConflictError(f"site {code!r} is deactivated: its code would open a notice")
            sites.append(site)
    else:
        query = select(Site).where(Site.active).order_by(Site.code)
        if within is not None:
            query = query.where(Site.code.in_(sorted(within)))
        sites = list((await session.scalars(query)).all())
    return [
        SiteCard(
            code=s.code,
            name=s.name,
            org=s.org,
            url=site_url(public_url, s.code),
            telegram=telegram_link(bot_username, s.code) if bot_username else None,
        )
        for s in sites
    ]
