"""Tokens: unguessable (256 bits), shown once, stored only as SHA-256; and a Telegram bot
token masked wherever text may carry one (log lines, stored error texts)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

# a bot token in an API or file URL (bot123:secret/...), and a bare one (123456:AAH...)
_URL_TOKEN = re.compile(r"bot\d+(?::|%3[Aa])[^/\s?#\"']+")
_BARE_TOKEN = re.compile(r"\b\d{5,}(?::|%3[Aa])[A-Za-z0-9_-]{30,}")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def mask_bot_tokens(text: str) -> str:
    return _BARE_TOKEN.sub("<token>", _URL_TOKEN.sub("bot<token>", text))
