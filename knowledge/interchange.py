"""Import and export of the JSON Lines interchange format (``docs/knowledge-format.md``).

An import validates every file completely before it writes anything: any problem (bad JSON,
a missing field, a wrong type, a duplicate id, a dangling ``expert_id``) raises
``KnowledgeFormatError`` listing every ``file:line: field`` found, and the database is left as
it was. A valid import upserts by id in one transaction; unchanged records are not touched, so
re-running the same import changes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import FormatProblem, KnowledgeFormatError
from knowledge.models import Base, Case, Expert, ExpertToken, Site, Station, Team, TrainingClass

log = logging.getLogger(__name__)

NonEmpty = Annotated[str, Field(min_length=1)]
SITE_CODE = re.compile(r"^[a-z0-9-]{3,32}$")
LOCAL_TIME = ZoneInfo("Asia/Shanghai")  # a class time written without an offset is local time
CLASS_KINDS = {"公开课": "open", "云课堂": "cloud"}  # knowledge.states.ClassKind, as people write it


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    def known(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in type(self).model_fields}

    def unknown(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ExpertRecord(_Record):
    id: NonEmpty
    name: NonEmpty
    title: str | None = None
    org: str | None = None
    region: str | None = None
    industries: list[str] = []
    skills: list[NonEmpty] = Field(min_length=1)
    bio: str | None = None
    telegram_id: int | None = None
    max_open_tickets: int = Field(5, ge=0)
    active: bool = True
    team_ids: list[NonEmpty] = []  # the teams (teams.jsonl) the expert serves in


class CaseRecord(_Record):
    id: NonEmpty
    title: NonEmpty
    question: NonEmpty
    answer: NonEmpty
    industry: str | None = None
    tags: list[str] = []
    expert_id: str | None = None
    created_at: str | None = None

    @field_validator("created_at")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO date: {value!r}") from None
        return value


class SiteRecord(_Record):
    code: str
    name: NonEmpty
    org: str | None = None
    region: str | None = None
    industry: str | None = None
    station: str | None = None  # the service station (stations.jsonl) whose steward looks after it
    active: bool = True  # an inactive site's QR code shows a notice instead of the chat

    @field_validator("code")
    @classmethod
    def _code_shape(cls, value: str) -> str:
        if not SITE_CODE.match(value):
            raise ValueError("must be 3-32 characters of a-z, 0-9 and '-'")
        return value


class TeamRecord(_Record):
    id: NonEmpty
    name: NonEmpty
    level: Literal["city", "county", "industry", "enterprise"]  # knowledge.states.TeamLevel
    region: str | None = None
    industries: list[str] = []
    contact: str | None = None


class StationRecord(_Record):
    id: NonEmpty
    name: NonEmpty
    region: str | None = None
    contact: str | None = None


def http_url(value: str | None) -> str | None:
    """An http(s) link, or a ValueError: a ``javascript:`` or ``data:`` link is never stored."""
    if value is None:
        return None
    value = value.strip()
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("a link holds no spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) link: {value[:60]!r}")
    return value


def class_time(value: object) -> object:
    """ISO 8601 with an offset, or local time without one (read as Asia/Shanghai)."""
    if isinstance(value, str):
        if len(value.strip()) <= len("2027-01-16"):
            raise ValueError(f"a date without a time of day: {value!r} (write 2027-01-16T14:00+08:00)")
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {value!r} (write 2027-01-16T14:00+08:00)") from None
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TIME)
    return value


class ClassRecord(_Record):
    """A class of the catalogue (classes.jsonl): 公开课 on site or 云课堂 online."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    title: Annotated[str, Field(min_length=1, max_length=300)]
    kind: Literal["open", "cloud"] = "open"  # knowledge.states.ClassKind; 公开课 / 云课堂 read too
    teacher_id: str | None = None  # an expert (experts.jsonl)
    starts_at: datetime
    minutes: int = Field(90, ge=1, le=24 * 60)
    place: Annotated[str, Field(max_length=300)] | None = None
    online_url: str | None = None
    topics: list[NonEmpty] = []
    description: str | None = None
    capacity: int | None = Field(None, ge=1)  # None: no limit
    recording_url: str | None = None
    station_id: str | None = None  # the station (stations.jsonl) whose steward runs it
    region: str | None = None
    active: bool = True  # False: cancelled

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_in_chinese(cls, value: object) -> object:
        return CLASS_KINDS.get(value.strip(), value.strip()) if isinstance(value, str) else value

    @field_validator("starts_at", mode="before")
    @classmethod
    def _local_time(cls, value: object) -> object:
        return class_time(value)

    @field_validator("online_url", "recording_url")
    @classmethod
    def _links(cls, value: str | None) -> str | None:
        value = http_url(value)
        if value is not None and len(value) > 500:
            raise ValueError("at most 500 characters")
        return value


R = TypeVar("R", bound=_Record)


@dataclass(frozen=True)
class Kind(Generic[R]):
    """One of the three files: its record schema, model and key field."""

    file: str
    record: type[R]
    model: type[Base]
    key: str


TEAMS = Kind("teams.jsonl", TeamRecord, Team, "id")
STATIONS = Kind("stations.jsonl", StationRecord, Station, "id")
EXPERTS = Kind("experts.jsonl", ExpertRecord, Expert, "id")
CASES = Kind("cases.jsonl", CaseRecord, Case, "id")
SITES = Kind("sites.jsonl", SiteRecord, Site, "code")
CLASSES = Kind("classes.jsonl", ClassRecord, TrainingClass, "id")
# in the order they are written: each refers only to kinds before it (experts to teams, sites to
# stations, cases to experts, classes to experts and stations)
KINDS: tuple[Kind[Any], ...] = (TEAMS, STATIONS, EXPERTS, SITES, CASES, CLASSES)


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())

    def summary(self) -> str:
        parts = []
        for kind in KINDS:
            name = kind.file.removesuffix(".jsonl")
            if name in self.created:
                parts.append(
                    f"{name}: {self.created[name]} new, {self.updated[name]} updated, "
                    f"{self.unchanged[name]} unchanged"
                )
        return "; ".join(parts) or "no files"


Progress = Callable[[str, int, int], None]


def validate_record(
    kind: Kind[R], raw: object, file: str, line: int | None
) -> tuple[R | None, list[FormatProblem]]:
    """One interchange object checked against its schema: the record, or every problem in it
    (the same checks for an import file's line and for a form on /admin)."""
    if not isinstance(raw, dict):
        return None, [FormatProblem(file, line, None, "expected a JSON object")]
    try:
        return kind.record.model_validate(raw), []
    except ValidationError as exc:
        return None, [
            FormatProblem(
                file,
                line,
                ".".join(str(part) for part in err["loc"]) or None,
                "required field is missing" if err["type"] == "missing" else err["msg"],
            )
            for err in exc.errors()
        ]


def parse_file(path: Path, kind: Kind[R]) -> tuple[list[tuple[int, R]], list[FormatProblem]]:
    """Parse and validate one file; returns (line number, record) pairs and the problems."""
    records: list[tuple[int, R]] = []
    problems: list[FormatProblem] = []
    first_line_of: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return [], [FormatProblem(kind.file, None, None, f"not UTF-8 text ({exc.reason})")]
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(
                FormatProblem(kind.file, number, None, f"not valid JSON: {exc.msg} (column {exc.colno})")
            )
            continue
        record, record_problems = validate_record(kind, raw, kind.file, number)
        if record is None:
            problems += record_problems
            continue
        key = getattr(record, kind.key)
        if key in first_line_of:
            problems.append(
                FormatProblem(
                    kind.file,
                    number,
                    kind.key,
                    f"duplicate {kind.key} {key!r} (first on line {first_line_of[key]})",
                )
            )
            continue
        first_line_of[key] = number
        records.append((number, record))
    return records, problems


Parsed = dict[str, list[tuple[int, Any]]]  # kind.file -> (line or row, record) as read


async def import_dir(session: AsyncSession, folder: Path, progress: Progress | None = None) -> ImportReport:
    """Validate every interchange file in ``folder``, then upsert all in one transaction."""
    present = [kind for kind in KINDS if (folder / kind.file).is_file()]
    if not present:
        names = ", ".join(kind.file for kind in KINDS)
        raise KnowledgeFormatError([FormatProblem(str(folder), None, None, f"none of {names} here")])
    parsed: Parsed = {}
    problems: list[FormatProblem] = []
    for kind in present:
        records, file_problems = parse_file(folder / kind.file, kind)
        parsed[kind.file] = records
        problems += file_problems
    if problems:
        raise KnowledgeFormatError(problems + await dangling_references(session, parsed))
    report = await import_parsed(session, parsed, progress)
    log.info("import done", extra={"folder": str(folder), "summary": report.summary()})
    return report


async def import_parsed(
    session: AsyncSession, parsed: Parsed, progress: Progress | None = None, dry_run: bool = False
) -> ImportReport:
    """Check the references of records already parsed (from files or a workbook), then upsert
    them all in one transaction; ``dry_run`` counts what would change and writes nothing."""
    if problems := await dangling_references(session, parsed):
        raise KnowledgeFormatError(problems)
    report = ImportReport()
    for kind in KINDS:
        if kind.file in parsed:
            await _upsert(session, kind, parsed[kind.file], report, progress, dry_run)
    if dry_run:
        await session.rollback()
        return report
    await revoke_inactive_tokens(session)
    await session.commit()
    return report


async def revoke_inactive_tokens(session: AsyncSession) -> None:
    """A deactivated expert's web tokens stop existing (the services check ``active`` on every
    call too; this makes the revocation survive a later re-activation)."""
    inactive = select(Expert.id).where(Expert.active.is_(False)).scalar_subquery()
    await session.execute(delete(ExpertToken).where(ExpertToken.expert_id.in_(inactive)))


# (kind that refers, its field, kind referred to): an id must exist in the same import or stored
REFERENCES: tuple[tuple[Kind[Any], str, Kind[Any]], ...] = (
    (EXPERTS, "team_ids", TEAMS),
    (SITES, "station", STATIONS),
    (CASES, "expert_id", EXPERTS),
    (CLASSES, "teacher_id", EXPERTS),
    (CLASSES, "station_id", STATIONS),
)


async def dangling_references(session: AsyncSession, parsed: Parsed) -> list[FormatProblem]:
    """Every id that names a team, station or expert neither in ``parsed`` nor stored."""
    problems = []
    for kind, field_name, target in REFERENCES:
        if kind.file not in parsed:
            continue
        known = {getattr(rec, target.key) for _, rec in parsed.get(target.file, [])}
        known |= set((await session.scalars(select(getattr(target.model, target.key)))).all())
        noun = target.file.removesuffix(".jsonl").removesuffix("s")  # "team", "station", "expert"
        for line, rec in parsed[kind.file]:
            value = getattr(rec, field_name)
            for ref in value if isinstance(value, list) else [value]:
                if ref is not None and ref not in known:
                    problems.append(FormatProblem(kind.file, line, field_name, f"no {noun} with id {ref!r}"))
    return problems


async def _upsert(
    session: AsyncSession,
    kind: Kind[Any],
    records: list[tuple[int, _Record]],
    report: ImportReport,
    progress: Progress | None,
    dry_run: bool = False,
) -> None:
    name = kind.file.removesuffix(".jsonl")
    existing = {getattr(row, kind.key): row for row in (await session.scalars(select(kind.model))).all()}
    created = updated = 0
    for done, (_, record) in enumerate(records, start=1):
        row = existing.get(getattr(record, kind.key))
        outcome = _outcome(row, record) if dry_run else _apply(session, kind, row, record)
        created += outcome == "created"
        updated += outcome == "updated"
        if progress:
            progress(name, done, len(records))
    await session.flush()
    report.created[name] = created
    report.updated[name] = updated
    report.unchanged[name] = len(records) - created - updated


def _values(record: _Record) -> dict[str, Any]:
    return record.known() | {"extra": record.unknown()}


def _outcome(row: Base | None, record: _Record) -> str:
    """What writing the record would do: "created", "updated" or "unchanged"."""
    if row is None:
        return "created"
    return "unchanged" if all(getattr(row, c) == v for c, v in _values(record).items()) else "updated"


def _apply(session: AsyncSession, kind: Kind[Any], row: Base | None, record: _Record) -> str:
    """Write one record onto its stored row (or a new one): "created", "updated" or "unchanged"."""
    outcome = _outcome(row, record)
    if outcome == "created":
        session.add(kind.model(**_values(record)))
    elif outcome == "updated":
        for col, val in _values(record).items():
            setattr(row, col, val)
    return outcome


async def save_record(session: AsyncSession, kind: Kind[Any], record: _Record) -> str:
    """Upsert one validated record (a form on /admin) without committing: "created", "updated"
    or "unchanged"."""
    row = await session.get(kind.model, getattr(record, kind.key))
    outcome = _apply(session, kind, row, record)
    await session.flush()
    return outcome


def row_to_record(row: Base, kind: Kind[Any]) -> dict[str, Any]:
    """A stored row as an interchange object: format fields in order, None left out, extras last."""
    out: dict[str, Any] = {}
    for name in kind.record.model_fields:
        value = getattr(row, name)
        if isinstance(value, datetime):  # a class's time, in local time with its offset
            value = value.astimezone(LOCAL_TIME).isoformat()
        if value is not None:
            out[name] = value
    # every interchange model (Expert, Case, Site) has ``extra``; their common Base does not
    for name, value in (getattr(row, "extra") or {}).items():  # noqa: B009
        out.setdefault(name, value)
    return out


async def export_dir(session: AsyncSession, folder: Path) -> dict[str, int]:
    """Write every kind's file (sorted by id) into ``folder``; each file replaced atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for kind in KINDS:
        key = getattr(kind.model, kind.key)
        rows = (await session.scalars(select(kind.model).order_by(key))).all()
        lines = [json.dumps(row_to_record(row, kind), ensure_ascii=False) for row in rows]
        target = folder / kind.file
        tmp = target.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(tmp, target)
        counts[kind.file.removesuffix(".jsonl")] = len(rows)
    return counts
