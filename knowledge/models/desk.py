"""The help desk's own records: every question asked, tickets with their messages and worker
tokens, experts' login tokens, the labelled pairs the product learns, and the outbox of
notifications. States are the enums of ``knowledge.states``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.models.base import Base, UTCDateTime, state_column, utcnow
from knowledge.states import (
    Author,
    Channel,
    Decision,
    EventKind,
    LabelSource,
    Proposal,
    TicketStatus,
    Tier,
)


class Question(Base):
    """Every question asked, whatever became of it: the base of the union's statistics."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_asked_at", "asked_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    site_code: Mapped[str | None] = mapped_column(ForeignKey("sites.code", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(state_column(Channel, 20), default=Channel.WEB)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decision: Mapped[Decision] = mapped_column(state_column(Decision, 10))
    top_case_id: Mapped[str | None] = mapped_column(String(64))
    top_score: Mapped[float | None] = mapped_column(Float)
    index_version: Mapped[str | None] = mapped_column(String(64))
    solved: Mapped[bool | None] = mapped_column(Boolean)
    solved_case_id: Mapped[str | None] = mapped_column(String(64))
    expert_ids: Mapped[list[str]] = mapped_column(JSON, default=list, doc="experts ranked for it")
    asker: Mapped[str | None] = mapped_column(
        String(64), doc="who asked, hashed (web client id or Telegram chat): counts distinct workers"
    )


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
    channel: Mapped[Channel] = mapped_column(state_column(Channel, 20), default=Channel.WEB)
    worker_chat_id: Mapped[int | None] = mapped_column(BigInteger, doc="Telegram chat of the worker")
    worker_openid: Mapped[str | None] = mapped_column(
        String(64), index=True, doc="the worker's WeChat openid (asked in WeChat, identified)"
    )
    status: Mapped[TicketStatus] = mapped_column(state_column(TicketStatus, 12), index=True)
    expert_id: Mapped[str | None] = mapped_column(ForeignKey("experts.id", ondelete="SET NULL"))
    offered_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    candidates: Mapped[list[str]] = mapped_column(JSON, default=list, doc="ranked experts still to try")
    passed_over: Mapped[list[str]] = mapped_column(JSON, default=list, doc="declined or stayed silent")
    tier: Mapped[Tier] = mapped_column(state_column(Tier, 10), default=Tier.RANKED)
    team_id: Mapped[str | None] = mapped_column(String(64), doc="the team it is offered to, in a team tier")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_answer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(Integer)
    published_case_id: Mapped[str | None] = mapped_column(String(64))
    discarded_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, doc="an admin decided its answer is not to become a case"
    )
    # a past case the policy found plausible (decision "confirm"), for the expert to confirm
    proposed_case_id: Mapped[str | None] = mapped_column(String(64))
    proposal: Mapped[Proposal | None] = mapped_column(state_column(Proposal, 10))
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
    source: Mapped[LabelSource] = mapped_column(state_column(LabelSource, 10))
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
    author: Mapped[Author] = mapped_column(state_column(Author, 10))
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
    A dispatcher claims rows before sending them (``claimed_by`` until ``claimed_until``), so
    two instances never send the same row; a crashed instance's claims lapse.
    A failed delivery is retried at ``next_attempt_at`` with exponential back-off; one that
    keeps failing is dead-lettered (``dead_at``), shown to admins and retried on their word."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[EventKind] = mapped_column(state_column(EventKind, 20))
    ticket_id: Mapped[str] = mapped_column(String(32), index=True)
    recipient: Mapped[str] = mapped_column(String(80), doc="'worker' or 'expert:<id>'")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(120), doc="the instance sending it")
    claimed_until: Mapped[datetime | None] = mapped_column(
        UTCDateTime, doc="the claim lapses then: another instance may send the row"
    )
