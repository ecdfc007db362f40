"""The class catalogue (公开课 on site, 云课堂 online): what workers see coming up, what the
administrator and the stewards edit on /admin (a steward: the classes of their stations and
regions), the recording announced to the sign-ups through the outbox, and the matcher that
puts related classes next to an answer (``retrieval.classes``), kept in step with the catalogue.

A class is edited as its interchange object (a line of classes.jsonl), with the checks of an
import line; cancelling it is saving it with ``active`` false.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.outbox import WORKER, emit_about
from bot.service.roster import stored_record
from knowledge.errors import AccessDeniedError, FormatProblem, KnowledgeFormatError, NotFoundError
from knowledge.interchange import CLASSES, ClassRecord, dangling_references, save_record, validate_record
from knowledge.models import ClassSignup, Expert, OutboxEvent, Steward, TrainingClass
from knowledge.states import Channel, ClassKind, EventKind
from retrieval.classes import ClassDoc, ClassMatcherHolder
from retrieval.encoder import Encoder


@dataclass(frozen=True)
class ClassInfo:
    """A class as the pages show it, with its teacher and how many have signed up."""

    id: str
    title: str
    kind: ClassKind
    teacher_id: str | None
    teacher: str | None
    teacher_title: str | None
    starts_at: datetime
    minutes: int
    place: str | None
    online_url: str | None
    topics: list[str]
    description: str | None
    capacity: int | None
    taken: int  # sign-ups not cancelled
    recording_url: str | None
    station_id: str | None
    region: str | None
    active: bool

    @property
    def seats_left(self) -> int | None:
        return None if self.capacity is None else max(0, self.capacity - self.taken)


def in_scope(station_id: str | None, region: str | None, steward: Steward | None) -> bool:
    """The administrator (None) sees every class; a steward those of their stations and regions."""
    if steward is None:
        return True
    return (station_id is not None and station_id in steward.station_ids) or (
        region is not None and region in steward.regions
    )


def check_scope(station_id: str | None, region: str | None, steward: Steward | None) -> None:
    if not in_scope(station_id, region, steward):
        raise AccessDeniedError("outside the stations and regions this steward looks after")


async def taken_seats(session: AsyncSession, class_ids: Iterable[str]) -> dict[str, int]:
    """Sign-ups not cancelled, per class."""
    ids = list(class_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(ClassSignup.class_id, func.count())
        .where(ClassSignup.class_id.in_(ids), ClassSignup.cancelled_at.is_(None))
        .group_by(ClassSignup.class_id)
    )
    return {class_id: count for class_id, count in rows}


async def describe(session: AsyncSession, rows: Sequence[TrainingClass]) -> list[ClassInfo]:
    """The rows with their teachers and seats taken (two queries, whatever their number)."""
    teacher_ids = {row.teacher_id for row in rows if row.teacher_id}
    teachers = {
        e.id: e for e in (await session.scalars(select(Expert).where(Expert.id.in_(teacher_ids)))).all()
    }
    taken = await taken_seats(session, [row.id for row in rows])
    infos = []
    for row in rows:
        teacher = teachers.get(row.teacher_id or "")
        infos.append(
            ClassInfo(
                id=row.id,
                title=row.title,
                kind=row.kind,
                teacher_id=row.teacher_id,
                teacher=teacher.name if teacher else None,
                teacher_title=teacher.title if teacher else None,
                starts_at=row.starts_at,
                minutes=row.minutes,
                place=row.place,
                online_url=row.online_url,
                topics=list(row.topics or []),
                description=row.description,
                capacity=row.capacity,
                taken=taken.get(row.id, 0),
                recording_url=row.recording_url,
                station_id=row.station_id,
                region=row.region,
                active=row.active,
            )
        )
    return infos


async def _upcoming(session: AsyncSession, now: datetime) -> Sequence[TrainingClass]:
    """Active classes that have not started by ``now``, soonest first."""
    query = (
        select(TrainingClass)
        .where(TrainingClass.active.is_(True), TrainingClass.starts_at > now)
        .order_by(TrainingClass.starts_at, TrainingClass.id)
    )
    return (await session.scalars(query)).all()


async def upcoming_classes(
    session: AsyncSession, now: datetime, region: str | None = None
) -> list[ClassInfo]:
    """Active classes that have not started, soonest first; ``region``'s own first."""
    rows = await _upcoming(session, now)
    infos = await describe(session, rows)
    return sorted(infos, key=lambda c: region is None or c.region != region)  # stable: time kept


async def find_class(session: AsyncSession, class_id: str) -> TrainingClass:
    row = await session.get(TrainingClass, class_id)
    if row is None:
        raise NotFoundError(f"no class {class_id!r}")
    return row


# ---- on /admin -----------------------------------------------------------------------------


async def staff_classes(session: AsyncSession, steward: Steward | None) -> list[ClassInfo]:
    """Every class in the caller's scope, the latest first (cancelled and past ones too)."""
    rows = (
        await session.scalars(
            select(TrainingClass).order_by(TrainingClass.starts_at.desc(), TrainingClass.id)
        )
    ).all()
    return await describe(session, [r for r in rows if in_scope(r.station_id, r.region, steward)])


async def staff_class(session: AsyncSession, steward: Steward | None, class_id: str) -> TrainingClass:
    row = await find_class(session, class_id)
    check_scope(row.station_id, row.region, steward)
    return row


async def class_record(session: AsyncSession, steward: Steward | None, class_id: str) -> dict[str, Any]:
    """One class as its interchange object (the form on /admin starts from it)."""
    await staff_class(session, steward, class_id)
    return await stored_record(session, CLASSES, class_id)


@dataclass(frozen=True)
class SavedClass:
    outcome: str  # "created", "updated" or "unchanged"
    announced: int  # recording notices queued (one per sign-up not cancelled)


async def save_class(
    session: AsyncSession, steward: Steward | None, class_id: str, raw: object, now: datetime
) -> SavedClass:
    """Add or replace one class (422 lists every problem, 403 outside a steward's scope, before
    or after). A recording link set or changed is announced to the sign-ups in the same commit."""
    before = await session.get(TrainingClass, class_id)
    if before is not None:
        check_scope(before.station_id, before.region, steward)
    record = _validated(class_id, raw)
    check_scope(record.station_id, record.region, steward)
    if problems := await dangling_references(session, {CLASSES.file: [(0, record)]}):
        raise KnowledgeFormatError([replace(p, file="class", line=None) for p in problems])
    outcome = await save_record(session, CLASSES, record)
    announced = await announce_recording(session, class_id, now)
    await session.commit()
    return SavedClass(outcome, announced)


def _validated(class_id: str, raw: object) -> ClassRecord:
    if isinstance(raw, dict):
        raw = {"id": class_id} | raw
        if raw["id"] != class_id:
            raise KnowledgeFormatError(
                [FormatProblem("class", None, "id", f"must be {class_id!r}, as in the address")]
            )
    record, problems = validate_record(CLASSES, raw, "class", None)
    if record is None:
        raise KnowledgeFormatError(problems)
    return record


async def announce_recording(session: AsyncSession, class_id: str, now: datetime) -> int:
    """One CLASS_RECORDING event per sign-up not cancelled that was not yet told of the class's
    current recording link (so a changed link is told again, an unchanged one never twice).
    Written in the caller's transaction; returns how many."""
    row = await session.get(TrainingClass, class_id)
    if row is None or not row.recording_url:
        return 0
    signups = (
        await session.scalars(
            select(ClassSignup).where(ClassSignup.class_id == class_id, ClassSignup.cancelled_at.is_(None))
        )
    ).all()
    if not signups:
        return 0
    told = {
        event.ticket_id
        for event in (
            await session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.kind == EventKind.CLASS_RECORDING,
                    OutboxEvent.ticket_id.in_([s.id for s in signups]),
                )
            )
        ).all()
        if event.payload.get("url") == row.recording_url
    }
    fresh = [s for s in signups if s.id not in told]
    for signup in fresh:
        chat = signup.telegram_chat_id
        emit_about(
            session,
            EventKind.CLASS_RECORDING,
            signup.id,
            WORKER,
            now,
            channel=Channel.TELEGRAM if chat is not None else Channel.WEB,
            chat_id=chat,
            class_id=row.id,
            title=row.title,
            url=row.recording_url,
        )
    return len(fresh)


async def announce_recordings(session: AsyncSession, now: datetime) -> int:
    """``announce_recording`` for every class with a recording (after an import); not committed."""
    ids = (
        await session.scalars(select(TrainingClass.id).where(TrainingClass.recording_url.is_not(None)))
    ).all()
    return sum([await announce_recording(session, class_id, now) for class_id in ids])


# ---- related classes next to an answer -----------------------------------------------------


async def class_docs(session: AsyncSession, now: datetime) -> list[tuple[Hashable, ClassDoc]]:
    """The active classes not started by ``now``, each with the version the matcher keys on."""
    rows = await _upcoming(session, now)
    return [
        (
            (row.id, row.updated_at.isoformat()),
            ClassDoc(
                row.id,
                row.title,
                row.kind,
                row.starts_at,
                row.place,
                tuple(row.topics or ()),
                row.description,
            ),
        )
        for row in rows
    ]


class ClassCatalogue:
    """Keeps the served matcher in step with the catalogue: refreshed at start, after an edit or
    an import, and by a poll (another process's import, a class that has started). A refresh
    reads the upcoming classes (one query) and encodes only new or changed ones."""

    def __init__(self, encoder: Encoder, holder: ClassMatcherHolder | None = None):
        self.encoder = encoder
        self.holder = holder or ClassMatcherHolder()
        self._lock = asyncio.Lock()

    async def refresh(self, session: AsyncSession, now: datetime) -> bool:
        """Rebuild the matcher when the upcoming classes changed; True when it did."""
        async with self._lock:
            docs = await class_docs(session, now)
            if session.in_transaction():
                await session.commit()  # hand the connection back while encoding
            if tuple(key for key, _ in docs) == self.holder.signature:
                return False
            await asyncio.to_thread(self.holder.rebuild, self.encoder, docs)
            return True


async def after_import(session: AsyncSession, catalogue: ClassCatalogue, now: datetime) -> int:
    """After an import that changed classes: recordings set or changed are announced (committed)
    and the matcher refreshed; returns how many notices were queued."""
    announced = await announce_recordings(session, now)
    await session.commit()
    await catalogue.refresh(session, now)
    return announced


DEMO_WRITTEN = datetime(2026, 12, 7, tzinfo=UTC)  # knowledge/demo/classes.jsonl's dates are of this day


async def bring_demo_classes_forward(session: AsyncSession, now: datetime) -> timedelta:
    """Move the demo's classes by the whole weeks since they were written, so a demo imported
    later still has classes ahead (and its past class behind) on the same weekdays; returns the
    shift. Only for the demo import: real catalogues keep their dates."""
    shift = timedelta(weeks=max(0, (now - DEMO_WRITTEN).days // 7))
    if shift:
        for course in (await session.scalars(select(TrainingClass))).all():
            course.starts_at = course.starts_at + shift
        await session.commit()
    return shift
