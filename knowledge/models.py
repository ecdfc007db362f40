"""SQLAlchemy 2 models: the knowledge base (experts, cases, sites) and the question log.

Fields mirror ``docs/knowledge-format.md``; fields an import file carries that the format
does not name are kept in ``extra`` so an export gives them back (lossless round trip).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class Expert(Base):
    __tablename__ = "experts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(200))
    org: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100), index=True)
    industries: Mapped[list[str]] = mapped_column(JSON, default=list)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    bio: Mapped[str | None] = mapped_column(Text)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    max_open_tickets: Mapped[int] = mapped_column(Integer, default=5)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    industry: Mapped[str | None] = mapped_column(String(100), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    expert_id: Mapped[str | None] = mapped_column(
        ForeignKey("experts.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[str | None] = mapped_column(String(40), doc="ISO date as imported")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Site(Base):
    __tablename__ = "sites"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    org: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100))
    industry: Mapped[str | None] = mapped_column(String(100))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Question(Base):
    """Every question asked, whatever became of it: the base of the union's statistics."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_asked_at", "asked_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    site_code: Mapped[str | None] = mapped_column(ForeignKey("sites.code", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(20), default="web")
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decision: Mapped[str] = mapped_column(String(10))
    top_case_id: Mapped[str | None] = mapped_column(String(64))
    top_score: Mapped[float | None] = mapped_column(Float)
    index_version: Mapped[str | None] = mapped_column(String(64))
    solved: Mapped[bool | None] = mapped_column(Boolean)
    solved_case_id: Mapped[str | None] = mapped_column(String(64))
    expert_ids: Mapped[list[str]] = mapped_column(JSON, default=list, doc="experts ranked for it")


class Ticket(Base):
    """A question handed to an expert. Exactly one owner at any time: an expert
    (``expert_id``), the experts of an escalation tier (``offered_to``), or the admin queue."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_expert", "status", "expert_id"),
        Index("uq_tickets_question", "question_id", unique=True),  # one ticket per question
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    question_id: Mapped[str | None] = mapped_column(ForeignKey("questions.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    site_code: Mapped[str | None] = mapped_column(ForeignKey("sites.code", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(20), default="web")
    worker_chat_id: Mapped[int | None] = mapped_column(BigInteger, doc="Telegram chat of the worker")
    status: Mapped[str] = mapped_column(String(12), index=True)  # open/assigned/answered/closed
    expert_id: Mapped[str | None] = mapped_column(ForeignKey("experts.id", ondelete="SET NULL"))
    offered_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    candidates: Mapped[list[str]] = mapped_column(JSON, default=list, doc="ranked experts still to try")
    passed_over: Mapped[list[str]] = mapped_column(JSON, default=list, doc="declined or stayed silent")
    tier: Mapped[str] = mapped_column(String(10), default="ranked")  # ranked / city / admin
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_answer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(Integer)
    published_case_id: Mapped[str | None] = mapped_column(String(64))
    # a past case the policy found plausible (decision "confirm"), for the expert to confirm
    proposed_case_id: Mapped[str | None] = mapped_column(String(64))
    proposal: Mapped[str | None] = mapped_column(String(10), doc="pending / confirmed / declined")
    # Every transition is conditional on the version it read (UPDATE ... WHERE version = n):
    # a change that landed in between makes the flush fail instead of being overwritten.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}


class DecisionLabel(Base):
    """A question paired with a case and whether the case answers it, as the product learnt it:
    an expert confirming or declining a proposed case, a worker's 解决了 / 没解决 on a shown
    case, an answer published as a case. The policy is refitted on them (scripts/evaluate.py)."""

    __tablename__ = "decision_labels"
    __table_args__ = (Index("uq_decision_labels_pair", "question_id", "case_id", "source", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    case_id: Mapped[str] = mapped_column(String(64))
    answers: Mapped[bool] = mapped_column(Boolean, doc="the case answers the question")
    source: Mapped[str] = mapped_column(String(10), doc="expert / worker / published")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TicketToken(Base):
    """A further worker token for a ticket, issued when a worker retries opening it (the first
    answer was lost): each works, only their SHA-256 is stored. The first is ``Ticket.token_hash``."""

    __tablename__ = "ticket_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TicketMessage(Base):
    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(10))  # worker / expert / system
    expert_id: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, default="")
    photo: Mapped[str | None] = mapped_column(String(200), doc="file name under uploads/<ticket>/")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ExpertToken(Base):
    """A bearer token an admin issued to an expert; only its SHA-256 is stored."""

    __tablename__ = "expert_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expert_id: Mapped[str] = mapped_column(ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxEvent(Base):
    """A notification written in the same transaction as the change it reports; channel
    adapters deliver it and mark it done (at least once: adapters drop duplicates by id).
    A failed delivery is retried at ``next_attempt_at`` with exponential back-off; one that
    keeps failing is dead-lettered (``dead_at``), shown to admins and retried on their word."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # assigned/reassigned/answered/message/closed
    ticket_id: Mapped[str] = mapped_column(String(32), index=True)
    recipient: Mapped[str] = mapped_column(String(80), doc="'worker' or 'expert:<id>'")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


# ---- the Telegram channel ------------------------------------------------------------------


class TelegramBindCode(Base):
    """A one-time link an admin issued to tie a Telegram account to an expert: single use,
    expiring, only the code's SHA-256 stored."""

    __tablename__ = "telegram_bind_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expert_id: Mapped[str] = mapped_column(ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by: Mapped[int | None] = mapped_column(BigInteger, doc="the Telegram user who used it")


class TelegramChat(Base):
    """A worker's chat with the bot: the site its QR code named (none: asked without one)."""

    __tablename__ = "telegram_chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    site_code: Mapped[str | None] = mapped_column(ForeignKey("sites.code", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TelegramMessage(Base):
    """A message the bot sent that buttons and replies refer back to. The question, case or
    ticket of a press or a reply is read from here (keyed by the chat Telegram vouches for),
    never from callback data or message text."""

    __tablename__ = "telegram_messages"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    audience: Mapped[str] = mapped_column(String(10))  # worker / expert
    question_id: Mapped[str | None] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    case_id: Mapped[str | None] = mapped_column(String(64))
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TelegramDelivery(Base):
    """An outbox event already sent to Telegram: a redelivery of it is dropped."""

    __tablename__ = "telegram_deliveries"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
