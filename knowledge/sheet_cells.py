"""One spreadsheet cell turned into the value an interchange field holds.

Excel hands over numbers as floats (3.0), phone numbers as numbers, dates as datetimes, and
people type full-width digits and 是/否; a CSV file hands over text only. Each is converted
here, or refused with a message saying what was wrong, so the record check that follows
(``validate_record``) is exactly the one a JSON Lines line gets.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time
from typing import Any

from knowledge.sheet_columns import LEVELS, CellType, ascii_width

TRUE = {"是", "true", "1", "在岗", "启用", "yes", "y"}
FALSE = {"否", "false", "0", "停用", "no", "n"}
# a list cell's items: 、，,;； or a line break; "/" only between two Chinese characters, so
# "焊接/切割" is two items but "S7-1200/1500" and "pH/溶氧" are one
LIST_SPLIT = re.compile(r"[、，,;；\r\n]+|(?<=[\u4e00-\u9fff])\s*[/／]\s*(?=[\u4e00-\u9fff])")
WRITTEN_DATE = re.compile(
    r"(\d{4})\s*[/.年-]\s*(\d{1,2})\s*[/.月-]\s*(\d{1,2})\s*日?"
)  # 2024/5/1, 2024年5月1日


class CellError(ValueError):
    """A cell that cannot hold its column's kind of value; the message says why."""


def is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def convert(kind: CellType, value: object) -> Any:
    """The field value of a non-empty cell, or None when it holds nothing (a list of separators)."""
    if kind == "text":
        return _text(value)
    if kind == "code":
        return ascii_width(_text(value))
    if kind in ("list", "codes"):
        items = _list(value)
        items = [ascii_width(item) for item in items] if kind == "codes" else items
        return items or None
    if kind == "bool":
        return _bool(value)
    if kind == "int":
        return _int(value)
    if kind == "date":
        return _date(value)
    if kind == "datetime":
        return _datetime(value)
    level = ascii_width(_text(value)).lower()
    if level not in LEVELS:
        raise CellError(f"not a team level: {level!r} (use 市级, 县区, 行业 or 企业)")
    return LEVELS[level]


def extra_value(value: object) -> Any:
    """A cell of a column the format does not name, kept as JSON can hold it."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime | date | time):
        return _date(value) if not isinstance(value, time) else value.isoformat()
    return value


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _text(value: object) -> str:
    if isinstance(value, bool):
        raise CellError("expected text, not a yes/no value")
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # a phone number Excel keeps as a number: 13812345678.0
        return _number_text(value)
    if isinstance(value, datetime | date):
        return _date(value)
    return str(value).strip()


def _list(value: object) -> list[str]:
    text = _text(value)
    if text.startswith("[") and text.endswith("]"):  # the export's form for items holding 、
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            items = None
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            return items
    return [item.strip() for item in LIST_SPLIT.split(text) if item.strip()]


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = ascii_width(_text(value)).lower()
    if text in TRUE or text in FALSE:
        return text in TRUE
    raise CellError(f"not a yes/no value: {text!r} (use 是 or 否)")


def _int(value: object) -> int:
    if isinstance(value, bool):
        raise CellError("expected a whole number, not a yes/no value")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise CellError(f"must be a whole number, not {value}")
    if isinstance(value, datetime | date | time):
        raise CellError("expected a whole number, not a date")
    text = ascii_width(_text(value))
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise CellError(f"not a whole number: {text!r}") from None
    if number.is_integer():
        return int(number)
    raise CellError(f"must be a whole number, not {text}")


def _datetime(value: object) -> str:
    """A time of day on a date: Excel's datetime cell as local time, text as written (2027/1/16
    14:00 read as ISO); the record checks it and reads a time without an offset as Beijing time."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, date):
        raise CellError("a date without a time: write 2027-01-16 14:00")
    if isinstance(value, bool) or isinstance(value, int | float):
        raise CellError(f"a number, not a time: {value} (format the cell as a date and time)")
    text = ascii_width(_text(value))
    if written := WRITTEN_DATE.match(text):
        year, month, day = (int(part) for part in written.groups())
        rest = text[written.end() :].strip().removeprefix("T")
        if not rest:
            raise CellError(f"a date without a time: {text!r} (write 2027-01-16 14:00)")
        return f"{year:04d}-{month:02d}-{day:02d}T{rest}"
    return text


def _date(value: object) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool) or isinstance(value, int | float):
        raise CellError(f"a number, not a date: {value} (format the cell as a date, or write 2024-05-01)")
    text = ascii_width(_text(value))
    if written := WRITTEN_DATE.fullmatch(text):
        year, month, day = (int(part) for part in written.groups())
        try:
            return date(year, month, day).isoformat()
        except ValueError:
            raise CellError(f"not a date: {text!r}") from None
    return text  # checked as an ISO date by the record
