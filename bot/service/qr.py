"""QR codes of sites: the web chat link of each site."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg


def site_url(public_url: str, site_code: str) -> str:
    return f"{public_url.rstrip('/')}/c/{site_code}"


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
