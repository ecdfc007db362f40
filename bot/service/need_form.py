"""What an enterprise union's needs-list form (需求清单) must hold, checked before anything is
stored: the filer has no account to come back to, so a bad field is refused whole with its name
(422), never half-saved. Phone numbers are kept as digits only (spaces, dashes and a +86 prefix
dropped), so the same number typed two ways reads the same to the steward who calls back."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from bot.service.validation import clean_phone, clean_text
from knowledge.errors import InvalidInputError
from knowledge.states import HelpMode, Urgency

MAX_ENTERPRISE = 200  # the columns' widths (knowledge/models/programme.py)
MAX_NAME = 100
MAX_LABEL = 100  # industry, region
MAX_PROBLEM = 4000
MAX_PLACE = 300
MAX_NOTE = 2000
MAX_WORKERS = 100_000
E = TypeVar("E", bound=StrEnum)


def workers_count(value: int | None, field: str) -> int:
    if value is None or isinstance(value, bool) or not 0 <= value <= MAX_WORKERS:
        raise InvalidInputError(f"{field}: a number of workers from 0 to {MAX_WORKERS}")
    return value


def optional_text(value: str | None, field: str, limit: int) -> str | None:
    """Trimmed text, or None when nothing was written."""
    if not value:
        return None
    return clean_text(value, field, limit, field.replace("_", " "), allow_empty=True) or None


def one_of(kind: type[E], value: str | None, field: str) -> E:
    """``value`` as a member of the state enum ``kind``, or InvalidInputError naming the field."""
    try:
        return kind(value or "")
    except ValueError:
        raise InvalidInputError(f"{field}: one of {', '.join(m.value for m in kind)}") from None


@dataclass(frozen=True)
class NeedForm:
    """The form as filed; ``checked`` returns it cleaned, or raises naming the first bad field."""

    station_id: str
    enterprise: str
    contact_name: str
    contact_phone: str
    problem: str
    help_wanted: list[str]
    industry: str | None = None
    region: str | None = None
    urgency: str = Urgency.NORMAL
    workers_affected: int = 0

    def checked(self) -> NeedForm:
        wanted = [one_of(HelpMode, mode, "help_wanted") for mode in self.help_wanted]
        if not wanted:
            raise InvalidInputError("help_wanted: choose at least one of online, onsite, training")
        return NeedForm(
            station_id=self.station_id,
            enterprise=clean_text(self.enterprise, "enterprise", MAX_ENTERPRISE, "enterprise"),
            contact_name=clean_text(self.contact_name, "contact_name", MAX_NAME, "contact name"),
            contact_phone=clean_phone(self.contact_phone, "contact_phone"),
            problem=clean_text(self.problem, "problem", MAX_PROBLEM, "problem"),
            help_wanted=[mode.value for mode in HelpMode if mode in wanted],  # each once, in order
            industry=optional_text(self.industry, "industry", MAX_LABEL),
            region=optional_text(self.region, "region", MAX_LABEL),
            urgency=one_of(Urgency, self.urgency, "urgency"),
            workers_affected=workers_count(self.workers_affected, "workers_affected"),
        )
