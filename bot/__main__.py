"""``python -m bot``: serve the web app (and, later, the Telegram bot) with uvicorn.

Example:
    python -m bot --host 127.0.0.1 --port 8000
"""

from __future__ import annotations

import argparse

import uvicorn

from bot.app import create_app
from bot.logs import setup_logging
from bot.runtime import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Serve craftdesk (web chat, API, consoles).",
        epilog="example: python -m bot --host 127.0.0.1 --port 8000",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    settings = load_settings()
    setup_logging(settings.log_level)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None)


if __name__ == "__main__":
    main()
