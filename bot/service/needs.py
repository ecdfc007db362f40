"""Needs lists (需求清单): a technical need an enterprise union files through its station's form,
from filing to done.

    submitted ──match──> matched ──schedule──> scheduled ──done──> done (solved on site /
        │                  │  ^                   │                      online / not solved)
        └──────────────────┴──┴─── withdraw ──────┴──> withdrawn (by the filer or the steward)

The filer has no account: filing returns a private status link whose token is stored only as
its hash (as a worker's ticket token). The station's steward matches experts (each asked, then
accepting or declining), schedules online guidance or a visit, and records the outcome. Every
change writes its notifications into the outbox in the same transaction (``OutboxEvent.
ticket_id`` holds the need's id for the need_* kinds), and is conditional on the need's
version: two stewards, or a steward and the filer, changing it at once never overwrite each
other. Channel-agnostic: the web API and the Telegram buttons call the same methods.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.clock import Clock
from bot.service.need_form import MAX_NOTE, MAX_PLACE, NeedForm, one_of, optional_text, workers_count
from bot.service.outbox import ADMIN, emit_about, to_expert
from bot.service.photo_store import PhotoStore
from bot.service.secrets import new_token, same_secret, token_hash
from bot.service.transitions import versioned_change
from knowledge.db import WriteGate
from knowledge.errors import ConflictError, InvalidInputError, NotFoundError
from knowledge.models import Expert, Need, NeedExpert, Station, Steward
from knowledge.states import EventKind, HelpMode, MatchState, NeedOutcome, NeedStatus

MAX_PHOTOS = 4
OPEN = (NeedStatus.SUBMITTED, NeedStatus.MATCHED, NeedStatus.SCHEDULED)  # not done, not withdrawn
SOLVED = (NeedOutcome.SOLVED_ONSITE, NeedOutcome.SOLVED_ONLINE)
PROBLEM_IN_NOTICE = 500  # characters of the problem a notification carries
T = TypeVar("T")


@dataclass(frozen=True)
class FiledNeed:
    need: Need
    token: str  # the filer's status link carries it; shown once, only its hash is stored


async def get_need(session: AsyncSession, need_id: str, fresh: bool = False) -> Need:
    need = await session.get(Need, need_id, populate_existing=fresh)
    if need is None:
        raise NotFoundError(f"no need {need_id!r}")
    return need


def in_scope(need: Need, steward: Steward | None) -> bool:
    """Whether a steward looks after the need (its station or its region); None: the admin."""
    if steward is None:
        return True
    return (need.station_id is not None and need.station_id in steward.station_ids) or (
        need.region is not None and need.region in steward.regions
    )


async def matches_of(session: AsyncSession, need_id: str) -> list[tuple[NeedExpert, Expert]]:
    """The experts matched to a need, in the order they were asked."""
    rows = await session.execute(
        select(NeedExpert, Expert)
        .join(Expert, Expert.id == NeedExpert.expert_id)
        .where(NeedExpert.need_id == need_id)
        .order_by(NeedExpert.matched_at, NeedExpert.expert_id)
    )
    return [(match, expert) for match, expert in rows.all()]


async def needs_in_scope(
    session: AsyncSession, steward: Steward | None, status: list[NeedStatus] | None = None, limit: int = 500
) -> list[Need]:
    """The newest needs a steward (None: the admin) looks after, optionally of some statuses."""
    query = select(Need).order_by(Need.created_at.desc()).limit(limit)
    if steward is not None:
        query = query.where(
            or_(Need.station_id.in_(steward.station_ids or []), Need.region.in_(steward.regions or []))
        )
    if status:
        query = query.where(Need.status.in_(status))
    return list((await session.scalars(query)).all())


async def needs_of_expert(session: AsyncSession, expert_id: str) -> list[tuple[Need, NeedExpert]]:
    """The needs an expert was matched to, open ones first, newest first."""
    rows = await session.execute(
        select(Need, NeedExpert)
        .join(NeedExpert, NeedExpert.need_id == Need.id)
        .where(NeedExpert.expert_id == expert_id)
        .order_by(Need.created_at.desc())
    )
    found = [(need, match) for need, match in rows.all()]
    return sorted(found, key=lambda pair: pair[0].status not in OPEN)


async def match_of(session: AsyncSession, need_id: str, expert_id: str) -> tuple[Need, NeedExpert]:
    """The need as the expert sees it; 'not found' when they are not matched to it (never says
    whether it exists)."""
    match = await session.get(NeedExpert, (need_id, expert_id))
    need = await session.get(Need, need_id)
    if match is None or need is None:
        raise NotFoundError("no such need among yours")
    return need, match


def photo_folder(need_id: str) -> str:
    """Where a need's photos are, in the photo store (beside the tickets' folders)."""
    return f"needs/{need_id}"


class NeedsService:
    def __init__(self, clock: Clock, photos: PhotoStore, gate: WriteGate | None = None):
        """``photos``: where the needs' photos go, a folder ``needs/<id>`` per need."""
        self.clock = clock
        self.photos = photos
        self.gate = gate or WriteGate(None)

    # ---- the filer ---------------------------------------------------------------------------

    async def file(self, session: AsyncSession, form: NeedForm) -> FiledNeed:
        form = form.checked()
        station = await session.get(Station, form.station_id)
        if station is None:
            raise InvalidInputError(f"station_id: no station {form.station_id!r}")
        token = new_token()
        need = Need(
            id=uuid.uuid4().hex,
            token_hash=token_hash(token),
            station_id=station.id,
            enterprise=form.enterprise,
            contact_name=form.contact_name,
            contact_phone=form.contact_phone,
            industry=form.industry,
            region=form.region or station.region,
            problem=form.problem,
            photos=[],
            urgency=form.urgency,
            help_wanted=form.help_wanted,
            workers_affected=form.workers_affected,
            status=NeedStatus.SUBMITTED,
            created_at=self.clock.now(),
        )
        async with self.gate.writing(session):
            session.add(need)
            self._emit(
                session, EventKind.NEED_FILED, need, ADMIN, station=station.name, **self._summary(need)
            )
            await session.commit()
        return FiledNeed(need, token)

    async def for_filer(self, session: AsyncSession, need_id: str, token: str) -> Need:
        """The need if the token is its token; otherwise 'not found' (never says which)."""
        need = await session.get(Need, need_id)
        if need is None or not same_secret(need.token_hash, token_hash(token or "")):
            raise NotFoundError("no such need")
        return need

    async def photo(self, need_id: str, name: str) -> bytes:
        return await self.photos.read(photo_folder(need_id), name)

    async def add_photo(self, session: AsyncSession, need: Need, data: bytes) -> str:
        """One more photo of the problem (at most ``MAX_PHOTOS``), while the need is open."""
        self._check_photo_room(need)
        name = await self.photos.save(photo_folder(need.id), data)

        async def attach(current: Need) -> str:
            self._check_photo_room(current)
            current.photos = [*current.photos, name]
            return name

        return await self._transition(session, need.id, attach)

    @staticmethod
    def _check_photo_room(need: Need) -> None:
        if need.status not in OPEN:
            raise ConflictError(f"the need is {need.status}: no more photos")
        if len(need.photos) >= MAX_PHOTOS:
            raise InvalidInputError(f"photo: at most {MAX_PHOTOS} photos per need")

    async def withdraw(self, session: AsyncSession, need_id: str) -> Need:
        """Withdrawn by the filer or the steward while not done; matched experts are told."""

        async def take_back(need: Need) -> Need:
            if need.status not in OPEN:
                raise ConflictError(f"the need is already {need.status}: it cannot be withdrawn")
            need.status, need.closed_at = NeedStatus.WITHDRAWN, self.clock.now()
            await self._tell_experts(session, need, EventKind.NEED_CHANGED, change=NeedStatus.WITHDRAWN)
            return need

        return await self._transition(session, need_id, take_back)

    # ---- the steward -------------------------------------------------------------------------

    async def match(self, session: AsyncSession, need_id: str, expert_ids: list[str]) -> Need:
        """Ask one or more experts to help (more may be asked later, until it is done)."""
        wanted = list(dict.fromkeys(e.strip() for e in expert_ids if e.strip()))
        if not wanted:
            raise InvalidInputError("expert_ids: choose at least one expert")
        experts = {
            e.id: e for e in (await session.scalars(select(Expert).where(Expert.id.in_(wanted)))).all()
        }
        if missing := [e for e in wanted if e not in experts]:
            raise InvalidInputError(f"expert_ids: no expert {', '.join(map(repr, missing))}")
        if inactive := [e for e in wanted if not experts[e].active]:
            raise InvalidInputError(f"expert_ids: not active: {', '.join(map(repr, inactive))}")

        async def ask(need: Need) -> Need:
            if need.status not in OPEN:
                raise ConflictError(f"the need is {need.status}: no more experts can be matched")
            asked = {m.expert_id for m, _ in await matches_of(session, need.id)}
            new = [e for e in wanted if e not in asked]
            if not new:
                raise ConflictError("these experts are already matched to the need")
            now = self.clock.now()
            for expert_id in new:
                session.add(
                    NeedExpert(need_id=need.id, expert_id=expert_id, state=MatchState.ASKED, matched_at=now)
                )
                self._emit(session, EventKind.NEED_MATCHED, need, to_expert(expert_id), **self._summary(need))
            if need.status == NeedStatus.SUBMITTED:
                need.status, need.matched_at = NeedStatus.MATCHED, now
            return need

        return await self._transition(session, need_id, ask)

    async def schedule(
        self, session: AsyncSession, need_id: str, mode: str, at: datetime | None, place: str | None
    ) -> Need:
        """Online guidance or a visit gets its time (and place or link); again to reschedule."""
        help_mode = one_of(HelpMode, mode, "help_mode")
        if at is None or at.tzinfo is None:
            raise InvalidInputError("help_at: a date and time with its time zone")
        where = optional_text(place, "help_place", MAX_PLACE)
        if help_mode == HelpMode.ONSITE and where is None:
            raise InvalidInputError("help_place: an on-site visit needs the address")

        async def fix(need: Need) -> Need:
            if need.status not in (NeedStatus.MATCHED, NeedStatus.SCHEDULED):
                raise ConflictError(f"the need is {need.status}: only a matched need can be scheduled")
            if not any(m.state == MatchState.ACCEPTED for m, _ in await matches_of(session, need.id)):
                raise ConflictError("no matched expert has accepted yet: schedule once one has")
            need.help_mode, need.help_at, need.help_place = help_mode, at.astimezone(UTC), where
            need.status, need.scheduled_at = NeedStatus.SCHEDULED, self.clock.now()
            await self._tell_experts(session, need, EventKind.NEED_SCHEDULED, **self._plan(need))
            return need

        return await self._transition(session, need_id, fix)

    async def done(
        self, session: AsyncSession, need_id: str, outcome: str, note: str | None, workers_helped: int | None
    ) -> Need:
        """The help was given: solved on site, online, or not solved, and how many it helped."""
        result = one_of(NeedOutcome, outcome, "outcome")
        note = optional_text(note, "outcome_note", MAX_NOTE)
        helped = workers_count(workers_helped, "workers_helped")

        async def finish(need: Need) -> Need:
            if need.status != NeedStatus.SCHEDULED:
                raise ConflictError(f"the need is {need.status}: only scheduled help can be marked done")
            need.status, need.closed_at = NeedStatus.DONE, self.clock.now()
            need.outcome, need.outcome_note, need.workers_helped = result, note, helped
            await self._tell_experts(
                session, need, EventKind.NEED_CHANGED, change=NeedStatus.DONE, outcome=result
            )
            return need

        return await self._transition(session, need_id, finish)

    # ---- the expert --------------------------------------------------------------------------

    async def respond(self, session: AsyncSession, need_id: str, expert_id: str, accept: bool) -> Need:
        """The expert accepts or declines; pressing the same answer again changes nothing."""
        await match_of(session, need_id, expert_id)  # 404 before anything else
        answer = MatchState.ACCEPTED if accept else MatchState.DECLINED

        async def reply(need: Need) -> Need:
            match = await session.get(NeedExpert, (need.id, expert_id), populate_existing=True)
            if match is None:
                raise NotFoundError("no such need among yours")
            if match.state == answer:
                return need
            if match.state != MatchState.ASKED:
                raise ConflictError(f"you have already {match.state} this need")
            if need.status not in OPEN:
                raise ConflictError(f"the need is {need.status}: nothing to answer")
            match.state, match.responded_at = answer, self.clock.now()
            expert = await session.get(Expert, expert_id)
            self._emit(
                session,
                EventKind.NEED_CHANGED,
                need,
                ADMIN,
                change=answer,
                expert_name=expert.name if expert else expert_id,
                enterprise=need.enterprise,
            )
            return need

        return await self._transition(session, need_id, reply)

    # ---- conditional transitions and notifications ---------------------------------------------

    async def _transition(
        self, session: AsyncSession, need_id: str, change: Callable[[Need], Awaitable[T]]
    ) -> T:
        """Apply ``change`` to the need's current state and commit, conditional on its version
        (``bot.service.transitions``)."""
        return await versioned_change(
            session, self.gate, lambda: get_need(session, need_id, fresh=True), change, "the need"
        )

    async def _tell_experts(self, session: AsyncSession, need: Need, kind: EventKind, **payload: Any) -> None:
        """Every matched expert who has not declined."""
        for match, _ in await matches_of(session, need.id):
            if match.state != MatchState.DECLINED:
                self._emit(session, kind, need, to_expert(match.expert_id), **payload)

    def _emit(
        self, session: AsyncSession, kind: EventKind, need: Need, recipient: str, **payload: Any
    ) -> None:
        """Queue a notification about the need in the caller's transaction (the need's id in
        ``ticket_id``, ``knowledge.states.subject_of``); the payload carries what the message
        says, so no channel needs to read the need back."""
        emit_about(session, kind, need.id, recipient, self.clock.now(), **payload)

    @staticmethod
    def _summary(need: Need) -> dict[str, Any]:
        return {
            "enterprise": need.enterprise,
            "region": need.region,
            "industry": need.industry,
            "urgency": need.urgency,
            "help_wanted": list(need.help_wanted),
            "workers_affected": need.workers_affected,
            "problem": need.problem[:PROBLEM_IN_NOTICE],
        }

    @staticmethod
    def _plan(need: Need) -> dict[str, Any]:
        return {
            "enterprise": need.enterprise,
            "help_mode": need.help_mode,
            "help_at": need.help_at.isoformat() if need.help_at else None,
            "help_place": need.help_place,
        }
