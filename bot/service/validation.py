"""What text the services accept, whatever channel it came through.

Lone UTF-16 surrogates (``"\\ud800"`` is valid JSON) break the tokenizer and every database
driver; NUL and the other control characters are refused by PostgreSQL and forge lines in
logs and chats. Both are refused with a message that says where. Invisible text (spaces,
zero-width characters) counts as empty.
"""

from __future__ import annotations

import re
import unicodedata

from knowledge.errors import InvalidInputError

ALLOWED_CONTROLS = frozenset("\n\r\t")  # line breaks and tabs belong in a description
PHONE_DIGITS = (7, 15)  # a landline is 7-8 digits, a mobile 11, with an area code 11-12
_PHONE_SEPARATORS = re.compile(r"[\s\-–—()（）.]+")
_FULL_WIDTH_DIGITS = {code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)}


def text_problem(value: str, allow_line_breaks: bool = True) -> str | None:
    """Why ``value`` is not acceptable text, or None when it is."""
    for position, char in enumerate(value):
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return f"holds a lone UTF-16 surrogate (U+{code:04X}) at position {position}"
        if unicodedata.category(char) == "Cc" and not (allow_line_breaks and char in ALLOWED_CONTROLS):
            return f"holds the control character U+{code:04X} at position {position}"
    return None


def is_blank(value: str) -> bool:
    """Nothing a person could read: only whitespace and invisible format characters."""
    return all(char.isspace() or unicodedata.category(char) == "Cf" for char in value)


def clean_text(value: str, field: str, max_chars: int, what: str, allow_empty: bool = False) -> str:
    """``value`` trimmed, or InvalidInputError naming ``field`` and what is wrong."""
    problem = text_problem(value)
    if problem is not None:
        raise InvalidInputError(f"{field}: the {what} {problem}")
    cleaned = value.strip()
    if is_blank(cleaned):
        if allow_empty:
            return ""
        raise InvalidInputError(f"{field}: the {what} is empty")
    if len(cleaned) > max_chars:
        raise InvalidInputError(
            f"{field}: the {what} has {len(cleaned)} characters, at most {max_chars} are allowed"
        )
    return cleaned


def clean_phone(value: str, field: str = "phone") -> str:
    """A phone number as digits only, so equal numbers compare equal (one sign-up per phone):
    full-width digits read as digits; spaces, dashes, dots and brackets and a leading +86 / 0086
    dropped (138-1234 5678 -> 13812345678). InvalidInputError naming ``field`` otherwise."""
    digits = _PHONE_SEPARATORS.sub("", (value or "").translate(_FULL_WIDTH_DIGITS))
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix) and len(digits) > len(prefix) + 6:
            digits = digits.removeprefix(prefix)
            break
    low, high = PHONE_DIGITS
    if not digits.isascii() or not digits.isdigit() or not low <= len(digits) <= high:
        raise InvalidInputError(
            f"{field}: not a phone number ({low} to {high} digits, e.g. 138 1234 5678; "
            "spaces, dashes and +86 allowed)"
        )
    return digits
