"""Write the QR codes of sites: a PNG and an SVG per site and one printable A4 PDF of cards.

Example:
    python scripts/make_qr.py --out qr/ --site xcmg-hv-3 --site xk-qishan-belt --bot craftdesk_bot

Each code opens ``{CRAFTDESK_PUBLIC_URL}/c/{site}``. With ``--bot`` every card also carries the
Telegram deep link, and ``{site}-telegram.png``/``.svg`` are written too. The PDF needs a font
with Chinese glyphs (found automatically, e.g. Debian's fonts-wqy-microhei; or ``--font``).
A public URL that phones cannot reach (localhost, a loopback, private or link-local address) is
refused (exit code 1) unless ``--intranet`` confirms it is the factory intranet's address.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.runtime import database, run_cli
from bot.service.qr import check_printable, qr_png, qr_svg, site_cards
from bot.service.qr_sheet import find_cjk_font, render_sheet
from bot.settings import Settings

SHEET = "qr-sheet.pdf"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python scripts/make_qr.py --out qr/ --site xcmg-hv-3 --bot craftdesk_bot",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write (created when missing)")
    parser.add_argument(
        "--site",
        action="append",
        default=[],
        metavar="CODE",
        help="a site code; repeat for several (default: every site)",
    )
    parser.add_argument(
        "--bot",
        metavar="NAME",
        help="Telegram bot username, for the deep link (default: CRAFTDESK_TELEGRAM__BOT_USERNAME when set)",
    )
    parser.add_argument("--font", type=Path, help="a .ttf/.ttc/.otf font with Chinese glyphs")
    parser.add_argument(
        "--intranet",
        action="store_true",
        help="print although CRAFTDESK_PUBLIC_URL is a loopback/private address: it is the "
        "intranet's address (also CRAFTDESK_PUBLIC_URL_INTRANET=true)",
    )
    return parser.parse_args()


async def main(settings: Settings, args: argparse.Namespace) -> None:
    # before any work: an address phones cannot open and a missing font are the likely problems
    check_printable(settings.public_url, args.intranet or settings.public_url_intranet, "--intranet")
    font = find_cjk_font(args.font)
    async with database(settings) as (_, sessions):
        async with sessions() as session:
            cards = await site_cards(
                session, settings.public_url, args.site, args.bot or settings.telegram.bot_username
            )
    args.out.mkdir(parents=True, exist_ok=True)
    for card in cards:
        for suffix, link in (("", card.url), ("-telegram", card.telegram)):
            if link:
                (args.out / f"{card.code}{suffix}.png").write_bytes(qr_png(link))
                (args.out / f"{card.code}{suffix}.svg").write_bytes(qr_svg(link))
    (args.out / SHEET).write_bytes(render_sheet(cards, font))
    print(f"{len(cards)} sites: PNG and SVG per site, {SHEET} -> {args.out} (font: {font.path})")


if __name__ == "__main__":
    arguments = parse_args()
    run_cli(lambda settings: main(settings, arguments))
