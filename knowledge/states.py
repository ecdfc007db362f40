"""The named states of the help desk, one enum each, shared by the models, the service, the HTTP
schemas and both channels. Their values are what the database stores and the API sends, so a
value never changes; a new state is a new member."""

from __future__ import annotations

from enum import StrEnum


class Decision(StrEnum):
    """What became of a question (``docs/api.md``: ``decision``)."""

    SUGGEST = "suggest"  # a past case is trusted: shown as the answer
    CONFIRM = "confirm"  # a past case is plausible: shown unconfirmed, an expert asked to confirm
    ROUTE = "route"  # no case holds: a ticket to the ranked experts
    REJECT = "reject"  # not a technical question for the programme


class Channel(StrEnum):
    """Where a worker asked."""

    WEB = "web"
    TELEGRAM = "telegram"


class TicketStatus(StrEnum):
    OPEN = "open"  # nobody holds it: offered to a tier, or in the admin queue
    ASSIGNED = "assigned"  # one expert holds it and owes an answer
    ANSWERED = "answered"  # the expert answered; the worker may write again or close it
    CLOSED = "closed"


UNFINISHED = (TicketStatus.OPEN, TicketStatus.ASSIGNED)  # a ticket still waiting for an answer


class WorkerStage(StrEnum):
    """Where a ticket stands as the worker reads it (``docs/api.md``: ``stage``), derived from the
    status, the claim and the experts passed over; never stored."""

    WAITING = "waiting"  # no expert has taken it yet (open, or assigned and not claimed)
    PASSED_ON = "passed_on"  # an expert passed it on (declined or silent); not claimed again yet
    HANDLING = "handling"  # an expert claimed it and owes an answer
    ANSWERED = "answered"
    CLOSED = "closed"


class TeamLevel(StrEnum):
    """The programme's "1+11+5+N": one city team, a team per county, industry-alliance teams,
    enterprise or park teams."""

    CITY = "city"
    COUNTY = "county"
    INDUSTRY = "industry"
    ENTERPRISE = "enterprise"


class Tier(StrEnum):
    """Who a ticket is offered to, widening as experts stay silent or decline."""

    RANKED = "ranked"  # the experts ranked for the question, one at a time
    COUNTY = "county"  # the site's county team, first claim wins
    INDUSTRY = "industry"  # the industry team of the site's industry, first claim wins
    CITY = "city"  # the city team, first claim wins
    ADMIN = "admin"  # the admin queue


class Proposal(StrEnum):
    """A proposed case's state on a ``confirm`` ticket."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"


class Author(StrEnum):
    """Who wrote a ticket message."""

    WORKER = "worker"
    EXPERT = "expert"
    SYSTEM = "system"


class LabelSource(StrEnum):
    """Where a labelled (question, case) pair came from."""

    EXPERT = "expert"  # an expert confirmed or declined a proposed case
    WORKER = "worker"  # a worker's 解决了 / 没解决 on a shown case
    PUBLISHED = "published"  # an answer published as a case, with the question it came from


class EventKind(StrEnum):
    """What an outbox event reports."""

    ASSIGNED = "assigned"  # a ticket given to one expert
    OFFERED = "offered"  # a ticket offered to a whole tier
    REASSIGNED = "reassigned"  # taken from an expert (declined or silent)
    ANSWERED = "answered"
    MESSAGE = "message"  # the worker wrote again
    CLOSED = "closed"
    CASE_DECLINED = "case_declined"  # the expert declined the proposed case
    ESCALATED = "escalated"  # reached the admin queue
    REMINDED = "reminded"  # the holder has not claimed it; it moves on soon
    # Needs lists and classes: ``OutboxEvent.ticket_id`` then holds the need's id (need_*) or
    # the sign-up's id (class_*), see ``subject_of``.
    NEED_FILED = "need_filed"  # an enterprise filed a need: for the stewards and admins to match
    NEED_MATCHED = "need_matched"  # a steward matched an expert to a need
    NEED_SCHEDULED = "need_scheduled"  # online guidance or a visit was scheduled
    NEED_CHANGED = "need_changed"  # accepted, declined, done or withdrawn: for the other side
    CLASS_RECORDING = "class_recording"  # a class's recording, for one sign-up


class Subject(StrEnum):
    """What an outbox event's ``ticket_id`` names."""

    TICKET = "ticket"
    NEED = "need"
    SIGNUP = "signup"


def subject_of(kind: EventKind) -> Subject:
    if kind.value.startswith("need_"):
        return Subject.NEED
    if kind.value.startswith("class_"):
        return Subject.SIGNUP
    return Subject.TICKET


class Audience(StrEnum):
    """Whom a message the Telegram bot sent was for."""

    WORKER = "worker"
    EXPERT = "expert"


class NeedStatus(StrEnum):
    """A needs-list entry (需求清单) on its way: filed by an enterprise union, matched to experts by
    the station's steward, help scheduled, then done or withdrawn."""

    SUBMITTED = "submitted"
    MATCHED = "matched"  # one or more experts asked to help
    SCHEDULED = "scheduled"  # online guidance or an on-site visit has a date
    DONE = "done"  # see ``NeedOutcome``
    WITHDRAWN = "withdrawn"  # by the filer or the steward, before it was done


class NeedOutcome(StrEnum):
    SOLVED_ONSITE = "solved_onsite"
    SOLVED_ONLINE = "solved_online"
    NOT_SOLVED = "not_solved"


class HelpMode(StrEnum):
    """The help an enterprise asks for, and the form help is scheduled in."""

    ONLINE = "online"  # online guidance
    ONSITE = "onsite"  # an on-site visit
    TRAINING = "training"


class Urgency(StrEnum):
    NORMAL = "normal"  # 一般
    URGENT = "urgent"  # 较急
    CRITICAL = "critical"  # 紧急: production stopped or at risk


class MatchState(StrEnum):
    """An expert matched to a need: asked, then accepted or declined."""

    ASKED = "asked"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class ClassKind(StrEnum):
    OPEN = "open"  # 公开课: a master craftsman's monthly class, on site
    CLOUD = "cloud"  # 云课堂: online
