"""What text the services accept, whatever channel it came through.

Lone UTF-16 surrogates (``"\\ud800"`` is valid JSON) break the tokenizer and every database
driver; NUL and the other control characters are refused by PostgreSQL and forge lines in
logs and chats. Both are refused with a message that says where. Invisible text (spaces,
zero-width characters) counts as empty.
"""

from __future__ import annotations

import unicodedata

from knowledge.errors import InvalidInputError

ALLOWED_CONTROLS = frozenset("\n\r\t")  # line breaks and tabs belong in a description


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
