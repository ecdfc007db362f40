"""The programme's other two lines beside the QR questions: enterprise needs lists (需求清单),
matched to experts by the stations' stewards, and classes (公开课 on site, 云课堂 online) with
their sign-ups and attendance. States are the enums of ``knowledge.states``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.models.base import Base, UTCDateTime, state_column, utcnow
from knowledge.states import ClassKind, HelpMode, MatchState, NeedOutcome, NeedStatus, Urgency


class Need(Base):
    """A technical need an enterprise union filed through its station's form (no account: the
    filer holds a private status link whose SHA-256 is ``token_hash``)."""

    __tablename__ = "needs"
    __table_args__ = (Index("ix_needs_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str | None] = mapped_column(
        ForeignKey("stations.id", ondelete="SET NULL"), index=True, doc="whose form it came through"
    )
    enterprise: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(100))
    contact_phone: Mapped[str] = mapped_column(String(40))
    industry: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100), index=True)
    problem: Mapped[str] = mapped_column(Text)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list, doc="file names under uploads/needs/<id>/")
    urgency: Mapped[Urgency] = mapped_column(state_column(Urgency, 10), default=Urgency.NORMAL)
    help_wanted: Mapped[list[str]] = mapped_column(JSON, default=list, doc="HelpMode values")
    workers_affected: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[NeedStatus] = mapped_column(state_column(NeedStatus, 12), default=NeedStatus.SUBMITTED)
    # the help as scheduled
    help_mode: Mapped[HelpMode | None] = mapped_column(state_column(HelpMode, 10))
    help_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    help_place: Mapped[str | None] = mapped_column(String(300), doc="address, or the online meeting link")
    # the result
    outcome: Mapped[NeedOutcome | None] = mapped_column(state_column(NeedOutcome, 16))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    workers_helped: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="when it was scheduled")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="done or withdrawn")
    published_case_id: Mapped[str | None] = mapped_column(String(64))
    # conditional transitions, as on tickets
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}


class NeedExpert(Base):
    """An expert a steward matched to a need, and their answer."""

    __tablename__ = "need_experts"

    need_id: Mapped[str] = mapped_column(ForeignKey("needs.id", ondelete="CASCADE"), primary_key=True)
    expert_id: Mapped[str] = mapped_column(ForeignKey("experts.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[MatchState] = mapped_column(state_column(MatchState, 10), default=MatchState.ASKED)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TrainingClass(Base):
    """A class of the catalogue: a master craftsman's open class on site, or a cloud class."""

    __tablename__ = "classes"
    __table_args__ = (Index("ix_classes_starts_at", "starts_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[ClassKind] = mapped_column(state_column(ClassKind, 8), default=ClassKind.OPEN)
    teacher_id: Mapped[str | None] = mapped_column(ForeignKey("experts.id", ondelete="SET NULL"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    minutes: Mapped[int] = mapped_column(Integer, default=90, doc="how long it lasts")
    place: Mapped[str | None] = mapped_column(String(300))
    online_url: Mapped[str | None] = mapped_column(String(500))
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(Text)
    capacity: Mapped[int | None] = mapped_column(Integer, doc="None: no limit")
    recording_url: Mapped[str | None] = mapped_column(String(500))
    station_id: Mapped[str | None] = mapped_column(ForeignKey("stations.id", ondelete="SET NULL"), index=True)
    region: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), doc="False: cancelled")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ClassSignup(Base):
    """One person signed up for a class (one per phone number and class). The sign-up link
    (SHA-256 in ``token_hash``) shows the place, then the recording; Telegram sign-ups also get
    the recording in their chat."""

    __tablename__ = "class_signups"
    __table_args__ = (Index("uq_class_signups_phone", "class_id", "phone", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    enterprise: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), doc="digits only: the duplicate check compares it")
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    signed_up_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
