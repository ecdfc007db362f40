"""The knowledge loop: answered tickets (and solved needs) become candidate cases; an admin edits
one and publishes it, and it is searchable at once (added to the served index, no full rebuild;
with the index in the database, to the newest stored version: ``bot.service.index_store``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from bot.service.clock import Clock
from bot.service.index_store import IndexStore
from bot.service.labels import record_label
from bot.service.needs import SOLVED, get_need, matches_of
from bot.service.tickets import get_ticket
from bot.service.validation import clean_text
from knowledge.errors import ConflictError
from knowledge.models import Case, Need, Site, Ticket, TicketMessage
from knowledge.states import Author, LabelSource, MatchState, NeedStatus
from retrieval.corpus import case_doc, load_corpus
from retrieval.encoder import Encoder
from retrieval.holder import IndexHolder
from retrieval.index import KnowledgeIndex, save_index

MAX_TITLE_CHARS = 300  # the column's width
MAX_CASE_TEXT_CHARS = 20_000


@dataclass(frozen=True)
class Candidate:
    ticket: Ticket
    answer: str  # the expert's messages, joined


async def candidates(session: AsyncSession) -> list[Candidate]:
    tickets = (
        await session.scalars(
            select(Ticket)
            .where(
                Ticket.first_answer_at.is_not(None),
                Ticket.published_case_id.is_(None),
                Ticket.discarded_at.is_(None),
            )
            .order_by(Ticket.first_answer_at.desc())
        )
    ).all()
    out = []
    for ticket in tickets:
        answers = (
            await session.scalars(
                select(TicketMessage.text)
                .where(TicketMessage.ticket_id == ticket.id, TicketMessage.author == Author.EXPERT)
                .order_by(TicketMessage.id)
            )
        ).all()
        out.append(Candidate(ticket, "\n".join(a for a in answers if a)))
    return out


async def discard(session: AsyncSession, ticket_id: str, clock: Clock) -> None:
    """Take an answered ticket off the candidates: its answer is not to become a case (too
    specific, wrong, or a duplicate). Publishing it by id stays possible."""
    ticket = await get_ticket(session, ticket_id)
    if ticket.first_answer_at is None:
        raise ConflictError("the ticket has no answer yet")
    if ticket.published_case_id:
        raise ConflictError(f"already published as case {ticket.published_case_id!r}")
    ticket.discarded_at = ticket.discarded_at or clock.now()
    await session.commit()


def _case_text(title: str, question: str, answer: str) -> tuple[str, str, str]:
    return (
        clean_text(title, "title", MAX_TITLE_CHARS, "title"),
        clean_text(question, "question", MAX_CASE_TEXT_CHARS, "question"),
        clean_text(answer, "answer", MAX_CASE_TEXT_CHARS, "answer"),
    )


class Publisher:
    def __init__(self, encoder: Encoder, index: IndexHolder, clock: Clock, store: IndexStore | None = None):
        """``store``: the index versions in the database (several instances), else the data dir."""
        self.encoder = encoder
        self.index = index
        self.clock = clock
        self.store = store
        self._lock = asyncio.Lock()  # one index update at a time

    async def publish(
        self, session: AsyncSession, ticket_id: str, title: str, question: str, answer: str
    ) -> Case:
        title, question, answer = _case_text(title, question, answer)
        ticket = await get_ticket(session, ticket_id)
        if ticket.first_answer_at is None:
            raise ConflictError("the ticket has no answer yet")
        if ticket.published_case_id:
            raise ConflictError(f"already published as case {ticket.published_case_id!r}")
        site = await session.get(Site, ticket.site_code) if ticket.site_code else None
        case = Case(
            id=f"T{ticket.id[:10].upper()}",
            industry=site.industry if site else None,
            tags=[],
            expert_id=ticket.expert_id,
            created_at=self.clock.now().date().isoformat(),
            extra={"ticket_id": ticket.id},
            title=title,
            question=question,
            answer=answer,
        )
        if ticket.question_id:  # the question it came from is answered by it: a label
            await record_label(
                session, ticket.question_id, case.id, True, LabelSource.PUBLISHED, self.clock.now()
            )
        return await self._store(session, case, ticket)

    async def publish_need(
        self, session: AsyncSession, need_id: str, title: str, question: str, answer: str
    ) -> Case:
        """A solved need as a case: its problem the question, the outcome note the answer (both
        edited by the steward first), credited to the first expert who accepted it."""
        title, question, answer = _case_text(title, question, answer)
        need = await get_need(session, need_id)
        if need.status != NeedStatus.DONE or need.outcome not in SOLVED:
            raise ConflictError(f"only a solved need can be published (it is {need.outcome or need.status})")
        if need.published_case_id:
            raise ConflictError(f"already published as case {need.published_case_id!r}")
        accepted = [m for m, _ in await matches_of(session, need.id) if m.state == MatchState.ACCEPTED]
        accepted.sort(key=lambda m: (m.responded_at or m.matched_at, m.expert_id))
        case = Case(
            id=f"N{need.id[:10].upper()}",
            industry=need.industry,
            tags=[],
            expert_id=accepted[0].expert_id if accepted else None,
            created_at=self.clock.now().date().isoformat(),
            extra={"need_id": need.id},
            title=title,
            question=question,
            answer=answer,
        )
        return await self._store(session, case, need)

    async def _store(self, session: AsyncSession, case: Case, source: Ticket | Need) -> Case:
        """The one way a case is published: stored with its source marked, then searchable."""
        session.add(case)
        source.published_case_id = case.id
        try:
            await session.commit()
        except (StaleDataError, IntegrityError):  # the source changed or was published meanwhile
            await session.rollback()
            raise ConflictError("it changed meanwhile; reload and try again") from None
        await self._add_to_index(session, case)
        return case

    async def _add_to_index(self, session: AsyncSession, case: Case) -> None:
        if self.store is not None:  # built from the database's newest version, not the served one
            await self.store.add_published()
            return
        async with self._lock:
            current = self.index.current
            if current is None:  # degraded: the next rebuild picks the case up
                return
            checksum = (await load_corpus(session)).checksum
            doc = case_doc(case)

            def work() -> KnowledgeIndex:
                vector = self.encoder.encode(list(doc.views))
                updated = current.with_case(doc, vector, checksum)
                save_index(updated, self.index.index_dir)  # so a restart and other servers see it
                return updated

            self.index.swap(await asyncio.to_thread(work))
