"""QR codes of sites: the web chat link of each site, and the Telegram deep link when a bot
is configured. The printable sheet of cards is ``bot.service.qr_sheet``."""

from __future__ import annotations

import io
from dataclasses import dataclass

import qrcode
import qrcode.image.svg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import InvalidInputError, NotFoundError
from knowledge.models import Site


def site_url(public_url: str, site_code: str) -> str:
    return f"{public_url.rstrip('/')}/c/{site_code}"


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
    session: AsyncSession, public_url: str, codes: list[str] | None = None, bot_username: str | None = None
) -> list[SiteCard]:
    """Cards for the given site codes (in that order), or for every site by code."""
    if codes:
        sites = []
        for code in codes:
            site = await session.get(Site, code)
            if site is None:
                raise NotFoundError(f"no site {code!r}")
            sites.append(site)
    else:
        sites = list((await session.scalars(select(Site).order_by(Site.code))).all())
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
