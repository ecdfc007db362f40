"""Asking: validate the question, run retrieval off the event loop, log it, return the outcome.

Channel-agnostic: the web API and the Telegram bot call ``AskService.ask`` the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.service.experts import AvailabilityCache
from bot.service.tickets import OpenedTicket, TicketService
from bot.service.validation import clean_text
from knowledge.db import WriteGate
from knowledge.errors import InvalidInputError
from knowledge.models import Expert, Question, Site
from knowledge.states import Channel, Decision
from retrieval.classes import ClassHit, ClassMatcherHolder
from retrieval.corpus import expert_doc
from retrieval.holder import IndexHolder
from retrieval.ranking import SiteContext
from retrieval.search import Outcome, Retriever

MAX_QUESTION_CHARS = 2000


def clean_question(text: str) -> str:
    return clean_text(text, "text", MAX_QUESTION_CHARS, "question")


@dataclass(frozen=True)
class AskResult:
    question_id: str
    outcome: Outcome
    message: str
    ticket: OpenedTicket | None = None  # opened in the same call (decisions route and confirm)
    shown: int = 0  # how many of the outcome's cases, from the first, a worker is shown
    solvers: dict[str, str] = field(default_factory=dict)  # expert id -> name, for the cases' credit
    classes: list[ClassHit] = field(default_factory=list)  # related upcoming classes (相关课程), at most 2


def asker_key(channel: Channel, who: str | None) -> str | None:
    """Who asked, as stored on the question: a hash of the channel's own id for the worker (the
    web chat's client id, the Telegram chat), so distinct workers can be counted without keeping
    the id. None when the channel gave none (a web client without ``X-Client-Id``)."""
    if not who:
        return None
    return hashlib.sha256(f"{channel}:{who}".encode()).hexdigest()


def shown_to_worker(outcome: Outcome) -> int:
    """A worker sees only the case the policy stands behind: the suggested one, or the one an
    expert is asked to confirm. Anything below that floor is no answer for the shop floor (a
    look-alike shown with 解决了 misleads, and the tap would be a false label)."""
    return 1 if outcome.decision in (Decision.SUGGEST, Decision.CONFIRM) and outcome.cases else 0


async def find_site(session: AsyncSession, code: str | None) -> Site | None:
    if code is None:
        return None
    site = await session.get(Site, code)
    if site is None:
        raise InvalidInputError(f"site: unknown site code {code!r}")
    if not site.active:
        raise InvalidInputError(f"site: the site {code!r} is no longer in service (deactivated)")
    return site


class AskService:
    def __init__(
        self,
        retriever: Retriever,
        index: IndexHolder,
        tickets: TicketService,
        gate: WriteGate | None = None,
        availability: AvailabilityCache | None = None,
        classes: ClassMatcherHolder | None = None,
    ):
        self.retriever = retriever
        self.index = index
        self.tickets = tickets
        self.gate = gate or WriteGate(None)
        self.availability = availability or AvailabilityCache()
        self.classes = classes or ClassMatcherHolder()

    async def ask(
        self,
        session: AsyncSession,
        text: str,
        site_code: str | None,
        channel: Channel = Channel.WEB,
        worker_chat_id: int | None = None,
        asker: str | None = None,
        worker_openid: str | None = None,
    ) -> AskResult:
        """Decide, log the question and, when it is routed, open its ticket: all in one
        transaction, so an acknowledged question always has the ticket its answer named.
        ``asker``: ``asker_key`` of the worker, when the channel knows them; ``worker_openid``:
        the WeChat worker the web chat identified (their ticket follows them)."""
        text = clean_question(text)
        index = self.index.current
        # encoding runs in a worker thread while the site and the experts are read
        examining = (
            asyncio.ensure_future(asyncio.to_thread(self.retriever.examine_text, index, text))
            if index is not None
            else None
        )
        try:
            site = await find_site(session, site_code)
            availability = await self.availability.get(session)
            context = SiteContext(region=site.region, industry=site.industry, org=site.org) if site else None
            experts = (
                [expert_doc(e) for e in (await session.scalars(select(Expert))).all()]
                if examining is None
                else []
            )
            # hand the pooled connection back while the encoder works: under a rush, requests
            # waiting for the encoder must not hold the connections the writers need
            if session.in_transaction():
                await session.commit()
            exam = None if examining is None else await examining
            if exam is None or index is None:
                outcome = self.retriever.route_without_index(experts, context, availability)
            else:
                outcome = self.retriever.decide(index, exam, context, availability)
        finally:
            if examining is not None and not examining.done():
                examining.cancel()
        top = outcome.cases[0] if outcome.cases else None
        question = Question(
            id=uuid.uuid4().hex,
            text=text,
            site_code=site.code if site else None,
            channel=channel,
            asked_at=self.tickets.clock.now(),
            decision=outcome.decision,
            top_case_id=top.case.id if top else None,
            top_score=top.score if top else None,
            index_version=outcome.index_version,
            expert_ids=[hit.expert.id for hit in outcome.experts],
            asker=asker,
        )
        async with self.gate.writing(session):
            session.add(question)
            ticket = (
                await self.tickets.open_new(
                    session,
                    question,
                    channel,
                    worker_chat_id,
                    proposed_case_id=top.case.id if outcome.decision == Decision.CONFIRM and top else None,
                    worker_openid=worker_openid,
                )
                if outcome.decision in (Decision.ROUTE, Decision.CONFIRM)
                else None
            )
            await session.commit()
        names = index.expert_names if index is not None else {}
        solvers = {
            h.case.expert_id: names[h.case.expert_id] for h in outcome.cases if h.case.expert_id in names
        }
        threshold = self.retriever.params.class_match_threshold
        related = (
            self.classes.current.match(exam.query, question.asked_at, threshold)
            if exam is not None and outcome.decision != Decision.REJECT
            else []
        )
        return AskResult(
            question.id,
            outcome,
            _message(outcome, index is None),
            ticket,
            shown_to_worker(outcome),
            solvers,
            related,
        )


def _message(outcome: Outcome, degraded: bool) -> str:
    if degraded:
        return texts.DEGRADED_REPLY
    return {
        Decision.REJECT: texts.REJECT_REPLY,
        Decision.SUGGEST: texts.SUGGEST_REPLY,
        Decision.CONFIRM: texts.CONFIRM_REPLY,
        Decision.ROUTE: texts.ROUTE_REPLY,
    }[outcome.decision]
