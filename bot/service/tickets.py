"""Tickets: a question handed to an expert, from opening to closing.

    open ──assign──> assigned ──answer──> answered ──close──> closed
                       │  ^                  │
       decline/silence │  └──worker writes───┘ (reopen)
                       v
         next ranked expert ─> city team (offered to all, first claim wins) ─> admin queue

A ticket always has an owner: an expert, the city team it is offered to, or the admin queue.
Every change writes its notifications into the outbox in the same transaction, and is
conditional on the state it read (a version column): concurrent changes never overwrite each
other. Channel-agnostic: the web API and the Telegram bot call the same methods.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from statistics import median
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.service.clock import Clock
from bot.service.experts import expert_availability
from bot.service.labels import record_label
from bot.service.outbox import ADMIN, WORKER, emit, to_expert
from bot.service.photo_store import PhotoStore
from bot.service.secrets import new_token, same_secret, token_hash
from bot.service.teams import offers_after
from bot.service.transitions import versioned_change
from bot.service.validation import clean_text
from knowledge.db import WriteGate
from knowledge.errors import AccessDeniedError, ConflictError, InvalidInputError, NotFoundError
from knowledge.models import Case, Expert, OutboxEvent, Question, Site, Ticket, TicketMessage, TicketToken
from knowledge.states import (
    UNFINISHED,
    Author,
    Channel,
    EventKind,
    LabelSource,
    Proposal,
    TicketStatus,
    Tier,
    WorkerStage,
)

MAX_MESSAGE_CHARS = 4000
RECENT_ANSWERS = 50  # the typical wait is the median over this many of the latest first answers
WAIT_CACHE = timedelta(minutes=1)  # every polling worker page reads it: computed once a minute
T = TypeVar("T")


@dataclass(frozen=True)
class TicketPolicy:
    silence: timedelta = timedelta(minutes=30)  # unclaimed this long: next expert
    remind_before: timedelta = timedelta(minutes=10)  # unclaimed: a reminder this long before; 0: none
    answer_timeout: timedelta = timedelta(hours=4)  # claimed but unanswered this long: next expert
    city_region: str = "徐州市"  # the region of the city-level team


@dataclass(frozen=True)
class OpenedTicket:
    ticket: Ticket
    token: str  # shown once to the worker's channel; only its hash is stored
    created: bool = True  # False: the question's ticket existed (a retry), a new token for it
    expert: Expert | None = None  # whom it was assigned to, read in the opening transaction


async def get_ticket(session: AsyncSession, ticket_id: str, fresh: bool = False) -> Ticket:
    """The ticket, or NotFoundError (404); ``fresh`` re-reads a ticket the session already holds."""
    ticket = await session.get(Ticket, ticket_id, populate_existing=fresh)
    if ticket is None:
        raise NotFoundError(f"no ticket {ticket_id!r}")
    return ticket


def worker_stage(ticket: Ticket) -> WorkerStage:
    """The ticket's state as the worker reads it: nobody has taken it before a claim, whatever
    the status says (an assigned ticket may not have been seen yet)."""
    if ticket.status == TicketStatus.CLOSED:
        return WorkerStage.CLOSED
    if ticket.status == TicketStatus.ANSWERED:
        return WorkerStage.ANSWERED
    if ticket.claimed_at is not None and ticket.expert_id is not None:
        return WorkerStage.HANDLING
    return WorkerStage.PASSED_ON if ticket.passed_over else WorkerStage.WAITING


def clean_message(text: str, allow_empty: bool = False) -> str:
    """A message's text, trimmed; it may be empty only when a photo carries the message."""
    return clean_text(text, "text", MAX_MESSAGE_CHARS, "message", allow_empty)


class TicketService:
    def __init__(self, clock: Clock, policy: TicketPolicy, photos: PhotoStore, gate: WriteGate | None = None):
        self.clock = clock
        self.policy = policy
        self.photos = photos
        self.gate = gate or WriteGate(None)
        self._typical_wait: tuple[datetime, int | None] | None = None

    # ---- worker side ---------------------------------------------------------------------

    async def open_for_question(
        self,
        session: AsyncSession,
        question_id: str,
        channel: Channel = Channel.WEB,
        worker_chat_id: int | None = None,
        worker_openid: str | None = None,
    ) -> OpenedTicket:
        """The ticket of a logged question (a suggestion that did not solve it, or a worker who
        wants a master). Idempotent: a retry whose first answer was lost gets the same ticket
        with a new working token, never a second ticket (the database holds one per question)."""
        async with self.gate.writing(session):
            question = await session.get(Question, question_id)
            if question is None:
                raise NotFoundError(f"no question with id {question_id!r}")
            existing = await self._ticket_of(session, question_id)
            if existing is None:
                try:
                    opened = await self.open_new(
                        session, question, channel, worker_chat_id, worker_openid=worker_openid
                    )
                    await session.commit()
                    return opened
                except IntegrityError:  # the same question opened at this moment by another call
                    await session.rollback()
                    existing = await self._ticket_of(session, question_id)
                    if existing is None:
                        raise
            token = new_token()
            session.add(
                TicketToken(token_hash=token_hash(token), ticket_id=existing.id, created_at=self.clock.now())
            )
            if worker_openid is not None and existing.worker_openid is None:
                existing.worker_openid = worker_openid
            await session.commit()
            return OpenedTicket(existing, token, created=False)

    async def open_new(
        self,
        session: AsyncSession,
        question: Question,
        channel: Channel,
        worker_chat_id: int | None,
        proposed_case_id: str | None = None,
        worker_openid: str | None = None,
    ) -> OpenedTicket:
        """Add a ticket for a question that has none, assigned to the first available ranked
        expert, in the caller's transaction (the caller commits). ``proposed_case_id``: a case
        the policy found plausible, for the expert to confirm with one tap."""
        token = new_token()
        ticket = Ticket(
            id=uuid.uuid4().hex,
            token_hash=token_hash(token),
            question_id=question.id,
            text=question.text,
            site_code=question.site_code,
            channel=channel,
            worker_chat_id=worker_chat_id,
            worker_openid=worker_openid,
            status=TicketStatus.OPEN,
            candidates=list(question.expert_ids),
            passed_over=[],
            offered_to=[],
            tier=Tier.RANKED,
            created_at=self.clock.now(),
            proposed_case_id=proposed_case_id,
            proposal=Proposal.PENDING if proposed_case_id else None,
        )
        session.add(ticket)
        self._add_message(session, ticket, Author.WORKER, question.text)
        # The reads of the assignment need nothing of the new rows (an open, unassigned ticket
        # holds no expert): not flushing them first inserts the ticket once, already assigned,
        # instead of an INSERT and an UPDATE.
        with session.no_autoflush:
            await self._assign_next(session, ticket)
            expert = await session.get(Expert, ticket.expert_id) if ticket.expert_id else None
        return OpenedTicket(ticket, token, expert=expert)

    async def for_worker(
        self, session: AsyncSession, ticket_id: str, token: str, openid: str | None = None
    ) -> Ticket:
        """The ticket if the token is one of its tokens, or ``openid`` (a WeChat worker the
        server identified) asked it; otherwise 'not found' (never says which)."""
        given = token_hash(token or "")
        ticket = await session.get(Ticket, ticket_id)
        if ticket is not None and same_secret(ticket.token_hash, given):
            return ticket
        if ticket is not None and openid is not None and ticket.worker_openid == openid:
            return ticket
        reissued = await session.get(TicketToken, given)
        if ticket is None or reissued is None or reissued.ticket_id != ticket.id:
            raise NotFoundError("no such ticket")
        return ticket

    async def worker_writes(
        self, session: AsyncSession, ticket: Ticket, text: str = "", photo: bytes | None = None
    ) -> TicketMessage:
        """A worker's message; after an answer it reopens the ticket for the same expert."""
        body = self._text_or_photo(text, photo)
        if ticket.status == TicketStatus.CLOSED:
            raise ConflictError("the ticket is closed; ask a new question")
        stored = (
            await self.photos.save(ticket.id, photo) if photo is not None else None
        )  # decoding a big photo takes a second or more

        async def write(current: Ticket) -> TicketMessage:
            if current.status == TicketStatus.CLOSED:
                raise ConflictError("the ticket is closed; ask a new question")
            message = self._add_message(session, current, Author.WORKER, body, photo=stored)
            if current.status == TicketStatus.ANSWERED:
                current.status = TicketStatus.ASSIGNED
                current.assigned_at = self.clock.now()
            self._emit(
                session,
                EventKind.MESSAGE,
                current,
                self._owner(current),
                text=message.text,
                photo=message.photo,
            )
            return message

        return await self._transition(session, ticket.id, write)

    async def typical_wait_minutes(self, session: AsyncSession) -> int | None:
        """The median minutes from asking to the first answer over the latest answered tickets;
        None while nothing was answered. Recomputed at most once a minute, and after an answer."""
        now = self.clock.now()
        if self._typical_wait is not None and now - self._typical_wait[0] < WAIT_CACHE:
            return self._typical_wait[1]
        rows = (
            await session.execute(
                select(Ticket.created_at, Ticket.first_answer_at)
                .where(Ticket.first_answer_at.is_not(None))
                .order_by(Ticket.first_answer_at.desc())
                .limit(RECENT_ANSWERS)
            )
        ).all()
        minutes = [(answered - asked).total_seconds() / 60 for asked, answered in rows if answered]
        wait = max(1, round(median(minutes))) if minutes else None
        self._typical_wait = (now, wait)
        return wait

    async def close(self, session: AsyncSession, ticket: Ticket, rating: int | None) -> Ticket:
        """Close the ticket: with a rating once it has an answer, or without one at any time
        (a worker withdrawing a question nobody has answered)."""
        if rating is not None and not 1 <= rating <= 5:
            raise InvalidInputError("rating: must be 1 to 5")

        async def shut(current: Ticket) -> Ticket:
            if current.status == TicketStatus.CLOSED:
                raise ConflictError("the ticket is already closed")
            if rating is not None and current.first_answer_at is None:
                raise ConflictError(
                    "nothing to rate yet: no expert has answered; close it without a rating to withdraw it"
                )
            current.rating = rating
            self._closed(session, current, rating=rating)
            return current

        return await self._transition(session, ticket.id, shut)

    # ---- expert side ---------------------------------------------------------------------

    async def assigned_to(self, session: AsyncSession, expert_id: str) -> list[Ticket]:
        """Tickets the expert holds or is offered (city team), open first, newest first."""
        mine = (
            await session.scalars(
                select(Ticket)
                .where(Ticket.expert_id == expert_id, Ticket.status != TicketStatus.CLOSED)
                .order_by(Ticket.created_at.desc())
            )
        ).all()
        offered = (
            await session.scalars(
                select(Ticket).where(
                    Ticket.expert_id.is_(None), Ticket.tier == Tier.CITY, Ticket.status == TicketStatus.OPEN
                )
            )
        ).all()
        return list(mine) + [t for t in offered if expert_id in t.offered_to]

    async def for_expert(self, session: AsyncSession, ticket_id: str, expert_id: str) -> Ticket:
        ticket = await get_ticket(session, ticket_id)
        self._check_expert_sees(ticket, expert_id)
        return ticket

    async def claim(self, session: AsyncSession, ticket_id: str, expert_id: str) -> Ticket:
        """Take the ticket. Of two experts claiming at once exactly one wins; a claim racing an
        escalation either lands before it or fails, never leaving a held ticket in a queue."""

        async def take(ticket: Ticket) -> Ticket:
            if ticket.status not in UNFINISHED:
                raise ConflictError(f"the ticket is {ticket.status}")
            if ticket.expert_id == expert_id and ticket.claimed_at is not None:
                return ticket
            if ticket.expert_id not in (None, expert_id):
                raise ConflictError("another expert holds this ticket")
            if ticket.expert_id is None and expert_id not in (ticket.offered_to or []):
                raise AccessDeniedError("this ticket is not offered to you")
            now = self.clock.now()
            ticket.expert_id, ticket.claimed_at, ticket.status, ticket.offered_to = (
                expert_id,
                now,
                TicketStatus.ASSIGNED,
                [],
            )
            ticket.assigned_at = ticket.assigned_at or now
            return ticket

        return await self._transition(session, ticket_id, take)

    async def decline(self, session: AsyncSession, ticket_id: str, expert_id: str) -> Ticket:
        async def pass_it(ticket: Ticket) -> Ticket:
            self._check_expert_sees(ticket, expert_id)
            if ticket.status not in UNFINISHED:
                raise ConflictError(f"the ticket is {ticket.status}")
            await self._let_go(session, ticket, expert_id, reason="declined")
            return ticket

        return await self._transition(session, ticket_id, pass_it)

    async def release(self, session: AsyncSession, expert_id: str) -> int:
        """A deactivated expert's unanswered tickets move on, as if declined (held ones to the
        next candidate, offers withdrawn); returns how many moved. Answered ones stay: the
        answer stands and the worker can still close it."""
        waiting = (
            await session.scalars(
                select(Ticket.id).where(
                    Ticket.status.in_(UNFINISHED),
                    or_(Ticket.expert_id == expert_id, Ticket.expert_id.is_(None)),
                )
            )
        ).all()
        await session.commit()

        async def let_go(ticket: Ticket) -> int:
            if ticket.status not in UNFINISHED or expert_id not in [ticket.expert_id, *ticket.offered_to]:
                return 0
            await self._let_go(session, ticket, expert_id, reason="deactivated")
            return 1

        moved = 0
        for ticket_id in waiting:
            moved += await self._transition(session, ticket_id, let_go)
        return moved

    async def answer(
        self,
        session: AsyncSession,
        ticket_id: str,
        expert_id: str,
        text: str = "",
        photo: bytes | None = None,
    ) -> TicketMessage:
        body = self._text_or_photo(text, photo)
        stored = None
        if photo is not None:  # decoded and stored before the write gate, checked first
            self._check_answerer(await get_ticket(session, ticket_id), expert_id)
            stored = await self.photos.save(ticket_id, photo)

        async def reply(ticket: Ticket) -> TicketMessage:
            self._check_answerer(ticket, expert_id)
            if (
                ticket.proposal == Proposal.PENDING
            ):  # answered in words instead of a tap: nothing waits any more
                ticket.proposal = None
            return await self._answered(session, ticket, expert_id, body, photo=stored)

        return await self._transition(session, ticket_id, reply)

    async def settle_proposal(
        self, session: AsyncSession, ticket_id: str, expert_id: str, correct: bool
    ) -> Ticket:
        """The expert's one tap on a proposed case. Right: the case is the answer, the worker is
        told at once. Wrong: the expert takes the ticket to answer it. Either way a label."""

        async def settle(ticket: Ticket) -> Ticket:
            self._check_expert_sees(ticket, expert_id)
            if ticket.proposal != Proposal.PENDING or ticket.proposed_case_id is None:
                raise ConflictError("this ticket has no case waiting for confirmation")
            if ticket.status not in UNFINISHED:
                raise ConflictError(f"the ticket is {ticket.status}")
            now = self.clock.now()
            case = await session.get(Case, ticket.proposed_case_id)
            if case is None:
                raise ConflictError("the proposed case no longer exists; answer the question")
            ticket.expert_id, ticket.offered_to = expert_id, []
            ticket.claimed_at = ticket.claimed_at or now
            ticket.assigned_at = ticket.assigned_at or now
            if ticket.question_id:
                await record_label(session, ticket.question_id, case.id, correct, LabelSource.EXPERT, now)
            if not correct:
                ticket.proposal, ticket.status = Proposal.DECLINED, TicketStatus.ASSIGNED
                self._emit(session, EventKind.CASE_DECLINED, ticket, WORKER)
                return ticket
            ticket.proposal = Proposal.CONFIRMED
            await self._answered(
                session,
                ticket,
                expert_id,
                texts.CASE_CONFIRMED.format(title=case.title, answer=case.answer),
                case_id=case.id,
            )
            return ticket

        return await self._transition(session, ticket_id, settle)

    async def solved_by_proposal(self, session: AsyncSession, ticket_id: str, case_id: str) -> Ticket | None:
        """The worker pressed 解决了 on the proposed case: the ticket closes and its expert is told.
        None when the ticket proposes another case or is already past that point."""

        async def close_it(ticket: Ticket) -> Ticket | None:
            if ticket.proposed_case_id != case_id or ticket.status == TicketStatus.CLOSED:
                return None
            if ticket.proposal == Proposal.PENDING:
                ticket.proposal = Proposal.CONFIRMED
            self._closed(session, ticket, solved_by_case=case_id, rating=None)
            return ticket

        return await self._transition(session, ticket_id, close_it)

    # ---- admin side ----------------------------------------------------------------------

    async def assign(self, session: AsyncSession, ticket_id: str, expert_id: str) -> Ticket:
        """An admin hands a ticket (e.g. from the admin queue) to a chosen expert."""
        expert = await session.get(Expert, expert_id)
        if expert is None:
            raise NotFoundError(f"no expert with id {expert_id!r}")
        if not expert.active:
            raise ConflictError(f"expert {expert_id!r} is not active")

        async def hand_over(ticket: Ticket) -> Ticket:
            if ticket.status == TicketStatus.CLOSED:
                raise ConflictError("the ticket is closed")
            self._give_to(session, ticket, expert_id, tier=Tier.ADMIN)
            return ticket

        return await self._transition(session, ticket_id, hand_over)

    # ---- silence -------------------------------------------------------------------------

    async def reassign_silent(self, session: AsyncSession) -> int:
        """Move on every ticket whose holder stayed silent too long, or was deactivated by an
        import or a script (the /admin form releases at once); returns how many moved. Each
        ticket moves in its own conditional transition: a claim or an answer that lands
        meanwhile wins, and the ticket is looked at again on the next sweep."""
        moved = 0
        holding_inactive = (
            select(Ticket.expert_id)
            .join(Expert, Expert.id == Ticket.expert_id)
            .where(Ticket.status.in_(UNFINISHED), Expert.active.is_(False))
            .distinct()
        )
        for expert_id in (await session.scalars(holding_inactive)).all():
            if expert_id is not None:
                moved += await self.release(session, expert_id)
        now = self.clock.now()
        waiting = (
            await session.scalars(
                select(Ticket.id).where(
                    Ticket.status.in_(UNFINISHED),
                    or_(Ticket.tier != Tier.ADMIN, Ticket.expert_id.is_not(None)),
                )
            )
        ).all()
        await session.commit()
        for ticket_id in waiting:
            try:
                moved += await self._transition(
                    session, ticket_id, partial(self._move_if_silent, session, now=now)
                )
            except (ConflictError, NotFoundError):
                continue
        return moved

    async def _move_if_silent(self, session: AsyncSession, ticket: Ticket, now: datetime) -> int:
        if ticket.status not in UNFINISHED or ticket.assigned_at is None:
            return 0
        if ticket.expert_id is None:  # offered to the city team
            if ticket.tier == Tier.ADMIN or now - ticket.assigned_at < self.policy.silence:
                return 0
            ticket.passed_over = [*ticket.passed_over, *ticket.offered_to]
            ticket.offered_to = []
            await self._assign_next(session, ticket)
            return 1
        if ticket.claimed_at is None:
            if now - ticket.assigned_at < self.policy.silence:
                await self._remind_if_due(session, ticket, now)
                return 0
        elif (
            ticket.status != TicketStatus.ASSIGNED
            or now - max(ticket.claimed_at, ticket.assigned_at) < self.policy.answer_timeout
        ):
            return 0
        await self._pass_on(session, ticket, ticket.expert_id, reason="silent")
        return 1

    async def _remind_if_due(self, session: AsyncSession, ticket: Ticket, now: datetime) -> None:
        """Once per assignment, ``remind_before`` (at most a third of the silence) ahead of the
        silence deadline, the holder is reminded on every channel it has that the ticket moves on
        unless claimed. The outbox row is the record that the reminder went out."""
        assert ticket.assigned_at is not None and ticket.expert_id is not None
        left = self.policy.silence - (now - ticket.assigned_at)
        if not self.policy.remind_before or left > min(self.policy.remind_before, self.policy.silence / 3):
            return
        recipient = to_expert(ticket.expert_id)
        reminded = await session.scalar(
            select(OutboxEvent.id)
            .where(
                OutboxEvent.kind == EventKind.REMINDED,
                OutboxEvent.ticket_id == ticket.id,
                OutboxEvent.recipient == recipient,
                OutboxEvent.created_at >= ticket.assigned_at,
            )
            .limit(1)
        )
        if reminded is None:
            minutes = max(1, round(left.total_seconds() / 60))
            self._emit(session, EventKind.REMINDED, ticket, recipient, text=ticket.text, minutes_left=minutes)

    # ---- conditional transitions ----------------------------------------------------------

    async def _transition(
        self, session: AsyncSession, ticket_id: str, change: Callable[[Ticket], Awaitable[T]]
    ) -> T:
        """Apply ``change`` to the ticket's current state and commit, conditional on its version
        (``bot.service.transitions``)."""
        return await versioned_change(
            session, self.gate, lambda: get_ticket(session, ticket_id, fresh=True), change, "the ticket"
        )

    async def _answered(
        self,
        session: AsyncSession,
        ticket: Ticket,
        expert_id: str,
        text: str,
        photo: str | None = None,
        **payload: Any,
    ) -> TicketMessage:
        """The expert's answer on the thread, the ticket answered, the worker told (the one way
        an answer lands, typed or a confirmed case)."""
        now = self.clock.now()
        message = self._add_message(session, ticket, Author.EXPERT, text, expert_id=expert_id, photo=photo)
        ticket.status, ticket.answered_at = TicketStatus.ANSWERED, now
        ticket.claimed_at = ticket.claimed_at or now
        ticket.first_answer_at = ticket.first_answer_at or now
        self._typical_wait = None  # a new answer: the next read recomputes the typical wait
        expert = await session.get(Expert, expert_id)
        self._emit(
            session,
            EventKind.ANSWERED,
            ticket,
            WORKER,
            text=message.text,
            photo=message.photo,
            expert_name=expert.name if expert else None,
            expert_title=expert.title if expert else None,
            **payload,
        )
        return message

    @staticmethod
    def _check_answerer(ticket: Ticket, expert_id: str) -> None:
        if ticket.expert_id != expert_id:
            raise AccessDeniedError("this ticket is not assigned to you")
        if ticket.status == TicketStatus.CLOSED:
            raise ConflictError("the ticket is closed")

    @staticmethod
    async def _ticket_of(session: AsyncSession, question_id: str) -> Ticket | None:
        return await session.scalar(select(Ticket).where(Ticket.question_id == question_id))

    @staticmethod
    def _check_expert_sees(ticket: Ticket, expert_id: str) -> None:
        if ticket.expert_id != expert_id and expert_id not in (ticket.offered_to or []):
            raise AccessDeniedError("this ticket is not assigned to you")

    # ---- the assignment mechanism ---------------------------------------------------------

    async def _let_go(self, session: AsyncSession, ticket: Ticket, expert_id: str, reason: str) -> None:
        """The expert steps out of the ticket: an offer to them is withdrawn (the ticket moves on
        when nobody is left offered it), a ticket they hold passes to the next candidate."""
        if expert_id in (ticket.offered_to or []):
            ticket.offered_to = [e for e in ticket.offered_to if e != expert_id]
            ticket.passed_over = [*ticket.passed_over, expert_id]
            if not ticket.offered_to:
                await self._assign_next(session, ticket)
        else:
            await self._pass_on(session, ticket, expert_id, reason=reason)

    async def _pass_on(self, session: AsyncSession, ticket: Ticket, expert_id: str, reason: str) -> None:
        ticket.passed_over = [*ticket.passed_over, expert_id]
        self._emit(session, EventKind.REASSIGNED, ticket, to_expert(expert_id), reason=reason)
        await self._assign_next(session, ticket)

    async def _assign_next(self, session: AsyncSession, ticket: Ticket) -> None:
        """Next available ranked candidate; then the next team tier with a free member (the
        site's county team, the industry team, the city team: offered to all of them at once,
        ``bot.service.teams``); then the admin queue."""
        availability = await expert_availability(session)

        def free(expert_id: str) -> bool:
            state = availability.get(expert_id)
            return state is not None and state.available and expert_id not in ticket.passed_over

        if ticket.tier == Tier.RANKED:
            while ticket.candidates:
                candidate, ticket.candidates = ticket.candidates[0], ticket.candidates[1:]
                if free(candidate):
                    self._give_to(session, ticket, candidate, tier=Tier.RANKED)
                    return
        if ticket.tier != Tier.ADMIN:
            site = await session.get(Site, ticket.site_code) if ticket.site_code else None
            async with aclosing(offers_after(session, ticket.tier, site, self.policy.city_region)) as tiers:
                async for offer in tiers:  # the first tier with a free member; later ones are not read
                    offered = [e for e in offer.members if free(e)]
                    if offered:
                        ticket.tier, ticket.status, ticket.expert_id = offer.tier, TicketStatus.OPEN, None
                        ticket.offered_to, ticket.assigned_at, ticket.claimed_at = (
                            offered,
                            self.clock.now(),
                            None,
                        )
                        ticket.team_id = offer.team.id if offer.team else None
                        team = offer.team.name if offer.team else None
                        for expert_id in offered:
                            self._emit(
                                session,
                                EventKind.OFFERED,
                                ticket,
                                to_expert(expert_id),
                                text=ticket.text,
                                team=team,
                            )
                        return
        ticket.tier, ticket.status, ticket.expert_id, ticket.team_id = (
            Tier.ADMIN,
            TicketStatus.OPEN,
            None,
            None,
        )
        ticket.offered_to, ticket.claimed_at = [], None
        self._emit(session, EventKind.ESCALATED, ticket, ADMIN, text=ticket.text)

    def _give_to(self, session: AsyncSession, ticket: Ticket, expert_id: str, tier: Tier) -> None:
        ticket.tier, ticket.status, ticket.expert_id = tier, TicketStatus.ASSIGNED, expert_id
        ticket.offered_to, ticket.assigned_at, ticket.claimed_at = [], self.clock.now(), None
        self._emit(session, EventKind.ASSIGNED, ticket, to_expert(expert_id), text=ticket.text)

    def _closed(self, session: AsyncSession, ticket: Ticket, **payload: Any) -> None:
        """Close the ticket and tell its holder, or every expert it is offered to (a question
        closed before anyone claimed it); nobody is offered it any more."""
        ticket.status, ticket.closed_at = TicketStatus.CLOSED, self.clock.now()
        for expert_id in [ticket.expert_id] if ticket.expert_id else ticket.offered_to or []:
            self._emit(session, EventKind.CLOSED, ticket, to_expert(expert_id), **payload)
        ticket.offered_to = []

    def _emit(
        self, session: AsyncSession, kind: EventKind, ticket: Ticket, recipient: str, **payload: Any
    ) -> None:
        emit(session, kind, ticket, recipient, self.clock.now(), **payload)

    def _owner(self, ticket: Ticket) -> str:
        return to_expert(ticket.expert_id) if ticket.expert_id else ADMIN

    def _add_message(
        self,
        session: AsyncSession,
        ticket: Ticket,
        author: Author,
        text: str,
        expert_id: str | None = None,
        photo: str | None = None,
    ) -> TicketMessage:
        message = TicketMessage(
            ticket_id=ticket.id,
            author=author,
            expert_id=expert_id,
            text=text,
            photo=photo,
            created_at=self.clock.now(),
        )
        session.add(message)
        return message

    @staticmethod
    def _text_or_photo(text: str, photo: bytes | None) -> str:
        return clean_message(text, allow_empty=photo is not None)
