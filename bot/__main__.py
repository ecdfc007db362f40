"""``python -m bot``: serve the web app with uvicorn and, when ``CRAFTDESK_BOT_TOKEN`` is set,
the Telegram bot beside it (long polling; webhook mode with ``CRAFTDESK_WEBHOOK_URL``). The
bot lives in the app's context (``bot.context.open_context``), so it starts and stops with it.

Example:
    CRAFTDESK_BOT_TOKEN=123:abc python -m bot --host 127.0.0.1 --port 8000
"""

from __future__ import annotations

import argparse
import logging
from typing import TypedDict

import uvicorn

from bot.app import create_app
from bot.logs import setup_logging
from bot.runtime import load_settings


class UvicornOptions(TypedDict):
    log_config: None
    proxy_headers: bool
    timeout_graceful_shutdown: int


# proxy_headers=False: uvicorn would otherwise take X-Forwarded-For from any peer in its
# forwarded_allow_ips (127.0.0.1 by default) as the client address. The app resolves the
# address itself, trusting only CRAFTDESK_RATE_LIMIT__TRUSTED_PROXIES (bot/web/ratelimit.py).
# timeout_graceful_shutdown: at a stop, requests get 5 s to finish; the live-update streams
# (held open up to 10 minutes, bot/web/routes/events.py) are then cut and their pages reconnect
# to another instance.
UVICORN_OPTIONS: UvicornOptions = {"log_config": None, "proxy_headers": False, "timeout_graceful_shutdown": 5}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Serve craftdesk (web chat, API, consoles; the Telegram bot when "
        "CRAFTDESK_BOT_TOKEN is set).",
        epilog="example: CRAFTDESK_BOT_TOKEN=123:abc python -m bot --host 127.0.0.1 --port 8000",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    settings = load_settings()
    setup_logging(settings.log_level)
    if settings.telegram.enabled:
        mode = "webhook" if settings.telegram.webhook_url else "long polling"
        logging.getLogger("bot").info("telegram bot enabled", extra={"mode": mode})
    uvicorn.run(create_app(settings), host=args.host, port=args.port, **UVICORN_OPTIONS)


if __name__ == "__main__":
    main()
