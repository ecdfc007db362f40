"""Structured logging: one line per event, ``key=value`` pairs from ``extra=`` appended.

Log lines carry user text (request paths, error details), so the formatter escapes control
characters (a newline must not start a forged line) and quotes values that could pass for
another ``key=value``. Telegram bot tokens are masked everywhere, traceback included, because
aiogram's file URLs and some error texts contain them.
"""

from __future__ import annotations

import logging
import re
import sys

from bot.service.secrets import mask_bot_tokens

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

# C0, DEL, C1 and the Unicode line/paragraph separators, plus the backslash so that an escape
# in the output always means the character was there
_UNSAFE = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NEEDS_QUOTES = re.compile(r"[\s=\"']")


def escape(text: str) -> str:
    """Control characters as visible escapes (``\\n``, ``\\x1b``, ``\\u2028``)."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def field(value: object) -> str:
    """A value that reads as exactly one field: escaped, and quoted when it could split."""
    text = escape(str(value))
    if text and not _NEEDS_QUOTES.search(text):
        return text
    return '"' + text.replace('"', '\\"') + '"'


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = f"{self.formatTime(record)} {record.levelname} {record.name}: {escape(record.getMessage())}"
        pairs = " ".join(
            f"{escape(key)}={field(value)}" for key, value in vars(record).items() if key not in _STANDARD
        )
        text = f"{base} {pairs}" if pairs else base
        if record.exc_info:
            # the formatter's own multi-line output, kept readable; only tokens are masked
            text += "\n" + (record.exc_text or self.formatException(record.exc_info))
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return mask_bot_tokens(text)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
