"""Request and response bodies of the JSON API (``docs/api.md``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from bot.service.validation import text_problem
from knowledge.states import Author, ClassKind, Decision, EventKind, Proposal, TicketStatus, Tier, WorkerStage


def _acceptable(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# every string a request carries: no lone surrogates, no control characters but line breaks
Text = Annotated[str, AfterValidator(_acceptable)]


class AskRequest(BaseModel):
    text: Text = Field(description="the question, 1-2000 characters after trimming")
    site: Text | None = Field(None, description="the site code from the QR link")


class SuggestionOut(BaseModel):
    case_id: str
    title: str
    answer: str
    score: float = Field(description="probability that this case answers the question")
    solved_by: str | None = Field(None, description="name of the expert whose answer the case is")


class ExpertOut(BaseModel):
    expert_id: str
    name: str
    title: str | None
    org: str | None
    region: str | None
    score: float


class RelatedClassOut(BaseModel):
    """An upcoming class whose topics match the question (相关课程)."""

    class_id: str
    title: str
    starts_at: str = Field(description="ISO 8601, UTC")
    kind: ClassKind
    place: str | None = Field(None, description="where an open class is held; None for a cloud class")
    url: str = Field(description="the class on the /classes page")


class AskResponse(BaseModel):
    question_id: str
    decision: Decision
    suggestions: list[SuggestionOut]
    experts: list[ExpertOut]
    index_version: str | None
    message: str = Field(description="a short reply for the worker, in Chinese")
    ticket: OpenedTicketOut | None = Field(
        None, description="the ticket this call opened (confirm, route), so no second call is needed"
    )
    shown: int = Field(
        0,
        description="how many of `suggestions`, from the first, to show a worker: "
        "the case the policy stands behind (suggest, confirm), else none",
    )
    classes: list[RelatedClassOut] = Field(
        default_factory=list, description="upcoming classes related to the question (at most 2)"
    )


class FeedbackRequest(BaseModel):
    solved: bool
    case_id: Text | None = None


class TicketRequest(BaseModel):
    """Either a logged question's id, or the question itself."""

    question_id: Text | None = None
    text: Text | None = None
    site: Text | None = None


class MessageRequest(BaseModel):
    text: Text


class CloseRequest(BaseModel):
    rating: int | None = Field(None, ge=1, le=5)


class ExpertCard(BaseModel):
    """What a worker sees of an expert: the programme is about recognising these people."""

    expert_id: str
    name: str
    title: str | None
    org: str | None
    region: str | None


class MessageOut(BaseModel):
    id: int
    author: Author
    text: str
    photo_url: str | None
    created_at: str


class ProposedCaseOut(BaseModel):
    """A past case the policy found plausible for a ticket, and where its confirmation stands."""

    case_id: str
    title: str
    answer: str
    state: Proposal
    solved_by: str | None = Field(None, description="name of the expert whose answer the case is")


class TicketOut(BaseModel):
    ticket_id: str
    status: TicketStatus
    created_at: str
    expert: ExpertCard | None
    stage: WorkerStage = Field(
        description="where it stands for the worker: waiting (no expert has taken it), passed_on "
        "(an expert passed it on, not taken again yet), handling (claimed), answered, closed"
    )
    claimed: bool = Field(description="an expert has taken it (claimed_at set)")
    has_answer: bool = Field(description="an expert has answered it at least once: it can be rated")
    typical_wait_minutes: int | None = Field(
        None, description="median minutes to a first answer over recently answered tickets; null: no data"
    )
    rating: int | None = None
    proposed_case: ProposedCaseOut | None = None
    messages: list[MessageOut] = []


class OpenedTicketOut(BaseModel):
    ticket_id: str
    token: str = Field(description="keep it: X-Ticket-Token for every later call on this ticket")
    status: TicketStatus
    expert: ExpertCard | None


class FeedbackResponse(BaseModel):
    question_id: str
    solved: bool
    ticket: OpenedTicketOut | None = None


class SiteOut(BaseModel):
    code: str
    name: str
    region: str | None
    industry: str | None


class ExpertTicketOut(BaseModel):
    """What an expert sees: the question and the site, never who asked."""

    ticket_id: str
    status: TicketStatus
    tier: Tier
    text: str
    site: SiteOut | None
    created_at: str
    assigned_at: str | None
    claimed: bool
    held_by_you: bool
    proposed_case: ProposedCaseOut | None = None
    messages: list[MessageOut] = []


class ConfirmRequest(BaseModel):
    correct: bool = Field(description="true: 对，按这个案例处理; false: 不对，我来回答")


class AnswerRequest(BaseModel):
    text: Text


class PublishRequest(BaseModel):
    title: Text
    question: Text
    answer: Text


class CandidateOut(BaseModel):
    ticket_id: str
    question: str
    answer: str
    expert_id: str | None
    expert_name: str | None = Field(None, description="who answered: a published case credits them")
    site: str | None
    site_name: str | None = None
    answered_at: str | None


class TokenOut(BaseModel):
    token: str
    login_url: str
    qr_svg: str = Field(description="the login link as an SVG QR code, for the expert's phone to scan")


class AssignRequest(BaseModel):
    expert_id: Text


class AdminSiteOut(BaseModel):
    """A site as the admin pages list it, with the link its QR code carries."""

    code: str
    name: str
    org: str | None
    region: str | None
    industry: str | None
    active: bool
    url: str


class RosterSavedOut(BaseModel):
    outcome: str = Field(description="created, updated or unchanged")
    released_tickets: int = Field(0, description="unanswered tickets of a deactivated expert passed on")
    reindex: dict[str, Any] | None = Field(None, description="the index rebuild the change started")


class AdminExpertOut(BaseModel):
    expert_id: str
    name: str
    title: str | None
    org: str | None
    region: str | None
    active: bool
    teams: list[str] = Field(default_factory=list, description="the names of the teams they serve in")
    open_tickets: int = Field(description="tickets assigned and not yet answered")
    max_open_tickets: int
    login_expires_at: str | None = Field(
        None, description="when the expert's login link stops working; None: no working link"
    )


class AdminTicketOut(ExpertTicketOut):
    """A ticket as the admin pages list it: also who holds it."""

    expert: ExpertCard | None = Field(None, description="the expert holding it; None: nobody")


class DeadLetterOut(BaseModel):
    """An outbox notification given up on after its retries (see ``bot/service/outbox.py``)."""

    id: int
    kind: EventKind
    ticket_id: str
    recipient: str
    attempts: int = Field(description="failed deliveries before it was given up on")
    last_error: str | None = Field(description="the last error, type and message, tokens masked")
    created_at: str
    dead_at: str


class RetriedOut(BaseModel):
    retried: int = Field(description="dead letters put back in the queue")
