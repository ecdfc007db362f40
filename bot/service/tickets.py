"""Tickets: a question handed to an expert, from opening to closing.

    open ──assign──> assigned ──answer──> answered ──close──> closed
                       │  ^                  │
       decline/silence │  └──worker writes───┘ (reopen)
                       v
         next ranked expert ─> city team (offered to all, first claim wins) ─> admin queue

A ticket always has an owner: an expert, the city team it is offered to, or the admin queue.
Every change writes its notifications into the outbox in the same transaction.
Channel-agnostic: the web API and the Telegram bot call the same methods.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.clock import Clock
from bot.service.experts import expert_availability
from bot.service.outbox import emit
from bot.service.photos import save_photo
from bot.service.secrets import new_token, token_hash
from knowledge.errors import AccessDeniedError, ConflictError, InvalidInputError, NotFoundError
from knowledge.models import Expert, Question, Ticket, TicketMessage

MAX_MESSAGE_CHARS = 4000


@dataclass(frozen=True)
class TicketPolicy:
    silence: timedelta = timedelta(minutes=30)  # unclaimed this long: next expert
    answer_timeout: timedelta = timedelta(hours=4)  # claimed but unanswered this long: next expert
    city_region: str = "徐州市"  # the region of the city-level team


@dataclass(frozen=True)
class OpenedTicket:
    ticket: Ticket
    token: str  # shown once to the worker's channel; only its hash is stored


def clean_message(text: str, allow_empty: bool = False) -> str:
    """A message's text, trimmed; it may be empty only when a photo carries the message."""
    cleaned = text.strip()
    if not cleaned and not allow_empty:
        raise InvalidInputError("text: the message is empty")
    if len(cleaned) > MAX_MESSAGE_CHARS:
        raise InvalidInputError(f"text: at most {MAX_MESSAGE_CHARS} characters are allowed")
    return cleaned


class TicketService:
    def __init__(self, clock: Clock, policy: TicketPolicy, uploads: Path):
        self.clock = clock
        self.policy = policy
        self.uploads = uploads

    # ---- worker side ---------------------------------------------------------------------

    async def open_for_question(self, session: AsyncSession, question_id: str, channel: str = "web",
                                worker_chat_id: int | None = None) -> OpenedTicket:
        """Open a ticket for a logged question (decision route, or a suggestion that did not
        solve it) and assign it to the first available ranked expert. One ticket per question."""
        question = await session.get(Question, question_id)
        if question is None:
            raise NotFoundError(f"no question with id {question_id!r}")
        existing = await session.scalar(select(Ticket).where(Ticket.question_id == question_id))
        if existing is not None:
            raise ConflictError(f"question {question_id!r} already has ticket {existing.id!r}")
        token = new_token()
        ticket = Ticket(
            id=uuid.uuid4().hex, token_hash=token_hash(token), question_id=question.id,
            text=question.text, site_code=question.site_code, channel=channel,
            worker_chat_id=worker_chat_id, status="open", candidates=list(question.expert_ids),
            passed_over=[], offered_to=[], tier="ranked", created_at=self.clock.now(),
        )
        session.add(ticket)
        self._add_message(session, ticket, "worker", question.text)
        await self._assign_next(session, ticket)
        await session.commit()
        return OpenedTicket(ticket, token)

    async def for_worker(self, session: AsyncSession, ticket_id: str, token: str) -> Ticket:
        """The ticket if the token is its token; otherwise 'not found' (never says which)."""
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None or ticket.token_hash != token_hash(token or ""):
            raise NotFoundError("no such ticket")
        return ticket

    async def worker_writes(self, session: AsyncSession, ticket: Ticket, text: str = "",
                            photo: bytes | None = None) -> TicketMessage:
        """A worker's message; after an answer it reopens the ticket for the same expert."""
        if ticket.status == "closed":
            raise ConflictError("the ticket is closed; ask a new question")
        message = self._add_message(session, ticket, "worker", self._text_or_photo(text, photo),
                                    photo=save_photo(self.uploads, ticket.id, photo) if photo is not None else None)
        if ticket.status == "answered":
            ticket.status = "assigned"
            ticket.assigned_at = self.clock.now()
        emit(session, "message", ticket, self._owner(ticket), text=message.text, photo=message.photo)
        await session.commit()
        return message

    async def close(self, session: AsyncSession, ticket: Ticket, rating: int | None) -> Ticket:
        if rating is not None and not 1 <= rating <= 5:
            raise InvalidInputError("rating: must be 1 to 5")
        if ticket.status == "closed":
            raise ConflictError("the ticket is already closed")
        ticket.status, ticket.closed_at, ticket.rating = "closed", self.clock.now(), rating
        if ticket.expert_id:
            emit(session, "closed", ticket, f"expert:{ticket.expert_id}", rating=rating)
        await session.commit()
        return ticket

    # ---- expert side ---------------------------------------------------------------------

    async def assigned_to(self, session: AsyncSession, expert_id: str) -> list[Ticket]:
        """Tickets the expert holds or is offered (city team), open first, newest first."""
        mine = (await session.scalars(
            select(Ticket).where(Ticket.expert_id == expert_id, Ticket.status != "closed")
            .order_by(Ticket.created_at.desc()))).all()
        offered = (await session.scalars(
            select(Ticket).where(Ticket.expert_id.is_(None), Ticket.tier == "city",
                                 Ticket.status == "open"))).all()
        return list(mine) + [t for t in offered if expert_id in t.offered_to]

    async def for_expert(self, session: AsyncSession, ticket_id: str, expert_id: str) -> Ticket:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFoundError(f"no ticket {ticket_id!r}")
        if ticket.expert_id != expert_id and expert_id not in (ticket.offered_to or []):
            raise AccessDeniedError("this ticket is not assigned to you")
        return ticket

    async def claim(self, session: AsyncSession, ticket_id: str, expert_id: str) -> Ticket:
        """Take the ticket. Atomic: of two experts claiming at once exactly one wins."""
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFoundError(f"no ticket {ticket_id!r}")
        if ticket.status not in ("open", "assigned"):
            raise ConflictError(f"the ticket is {ticket.status}")
        if ticket.expert_id == expert_id and ticket.claimed_at is not None:
            return ticket
        if ticket.expert_id not in (None, expert_id):
            raise ConflictError("another expert holds this ticket")
        if ticket.expert_id is None and expert_id not in (ticket.offered_to or []):
            raise AccessDeniedError("this ticket is not offered to you")
        now = self.clock.now()
        holder = Ticket.expert_id.is_(None) if ticket.expert_id is None else Ticket.expert_id == expert_id
        result = await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id, holder, Ticket.claimed_at.is_(None),
                   Ticket.status.in_(("open", "assigned")))
            .values(expert_id=expert_id, claimed_at=now, status="assigned", offered_to=[],
                    assigned_at=ticket.assigned_at or now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            raise ConflictError("another expert holds this ticket")
        await session.commit()
        await session.refresh(ticket)
        return ticket

    async def decline(self, session: AsyncSession, ticket_id: str, expert_id: str) -> Ticket:
        ticket = await self.for_expert(session, ticket_id, expert_id)
        if ticket.status not in ("open", "assigned"):
            raise ConflictError(f"the ticket is {ticket.status}")
        if expert_id in (ticket.offered_to or []):
            ticket.offered_to = [e for e in ticket.offered_to if e != expert_id]
            ticket.passed_over = [*ticket.passed_over, expert_id]
            if not ticket.offered_to:
                await self._assign_next(session, ticket)
        else:
            await self._pass_on(session, ticket, expert_id, reason="declined")
        await session.commit()
        return ticket

    async def answer(self, session: AsyncSession, ticket_id: str, expert_id: str, text: str = "",
                     photo: bytes | None = None) -> TicketMessage:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFoundError(f"no ticket {ticket_id!r}")
        if ticket.expert_id != expert_id:
            raise AccessDeniedError("this ticket is not assigned to you")
        if ticket.status == "closed":
            raise ConflictError("the ticket is closed")
        now = self.clock.now()
        message = self._add_message(session, ticket, "expert", self._text_or_photo(text, photo),
                                    expert_id=expert_id,
                                    photo=save_photo(self.uploads, ticket.id, photo) if photo is not None else None)
        ticket.status, ticket.answered_at = "answered", now
        ticket.claimed_at = ticket.claimed_at or now
        ticket.first_answer_at = ticket.first_answer_at or now
        expert = await session.get(Expert, expert_id)
        emit(session, "answered", ticket, "worker", text=message.text, photo=message.photo,
             expert_name=expert.name if expert else None, expert_title=expert.title if expert else None)
        await session.commit()
        return message

    # ---- admin side ----------------------------------------------------------------------

    async def assign(self, session: AsyncSession, ticket_id: str, expert_id: str) -> Ticket:
        """An admin hands a ticket (e.g. from the admin queue) to a chosen expert."""
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFoundError(f"no ticket {ticket_id!r}")
        if await session.get(Expert, expert_id) is None:
            raise NotFoundError(f"no expert with id {expert_id!r}")
        if ticket.status == "closed":
            raise ConflictError("the ticket is closed")
        self._give_to(session, ticket, expert_id, tier="admin")
        await session.commit()
        return ticket

    # ---- silence -------------------------------------------------------------------------

    async def reassign_silent(self, session: AsyncSession) -> int:
        """Move on every ticket whose holder stayed silent too long; returns how many moved."""
        now = self.clock.now()
        moved = 0
        tickets = (await session.scalars(
            select(Ticket).where(Ticket.status.in_(("open", "assigned")), Ticket.tier != "admin"))).all()
        for ticket in tickets:
            if ticket.assigned_at is None:
                continue
            if ticket.expert_id is None:  # offered to the city team
                if now - ticket.assigned_at >= self.policy.silence:
                    ticket.passed_over = [*ticket.passed_over, *ticket.offered_to]
                    ticket.offered_to = []
                    await self._assign_next(session, ticket)
                    moved += 1
            elif ticket.claimed_at is None and now - ticket.assigned_at >= self.policy.silence:
                await self._pass_on(session, ticket, ticket.expert_id, reason="silent")
                moved += 1
            elif ticket.claimed_at is not None and ticket.status == "assigned" and (
                    now - max(ticket.claimed_at, ticket.assigned_at) >= self.policy.answer_timeout):
                await self._pass_on(session, ticket, ticket.expert_id, reason="silent")
                moved += 1
        await session.commit()
        return moved

    # ---- the assignment mechanism ---------------------------------------------------------

    async def _pass_on(self, session: AsyncSession, ticket: Ticket, expert_id: str, reason: str) -> None:
        ticket.passed_over = [*ticket.passed_over, expert_id]
        emit(session, "reassigned", ticket, f"expert:{expert_id}", reason=reason)
        await self._assign_next(session, ticket)

    async def _assign_next(self, session: AsyncSession, ticket: Ticket) -> None:
        """Next available ranked candidate; then the city team (offered to all of them at
        once); then the admin queue."""
        availability = await expert_availability(session)

        def free(expert_id: str) -> bool:
            state = availability.get(expert_id)
            return state is not None and state.available and expert_id not in ticket.passed_over

        if ticket.tier == "ranked":
            while ticket.candidates:
                candidate, ticket.candidates = ticket.candidates[0], ticket.candidates[1:]
                if free(candidate):
                    self._give_to(session, ticket, candidate, tier="ranked")
                    return
            city = (await session.scalars(
                select(Expert.id).where(Expert.region == self.policy.city_region))).all()
            offered = [e for e in city if free(e)]
            if offered:
                ticket.tier, ticket.status, ticket.expert_id = "city", "open", None
                ticket.offered_to, ticket.assigned_at, ticket.claimed_at = offered, self.clock.now(), None
                for expert_id in offered:
                    emit(session, "offered", ticket, f"expert:{expert_id}", text=ticket.text)
                return
        ticket.tier, ticket.status, ticket.expert_id = "admin", "open", None
        ticket.offered_to, ticket.claimed_at = [], None
        emit(session, "escalated", ticket, "admin", text=ticket.text)

    def _give_to(self, session: AsyncSession, ticket: Ticket, expert_id: str, tier: str) -> None:
        ticket.tier, ticket.status, ticket.expert_id = tier, "assigned", expert_id
        ticket.offered_to, ticket.assigned_at, ticket.claimed_at = [], self.clock.now(), None
        emit(session, "assigned", ticket, f"expert:{expert_id}", text=ticket.text)

    def _owner(self, ticket: Ticket) -> str:
        return f"expert:{ticket.expert_id}" if ticket.expert_id else "admin"

    def _add_message(self, session: AsyncSession, ticket: Ticket, author: str, text: str,
                     expert_id: str | None = None, photo: str | None = None) -> TicketMessage:
        message = TicketMessage(ticket_id=ticket.id, author=author, expert_id=expert_id, text=text,
                                photo=photo, created_at=self.clock.now())
        session.add(message)
        return message

    @staticmethod
    def _text_or_photo(text: str, photo: bytes | None) -> str:
        return clean_message(text, allow_empty=photo is not None)
