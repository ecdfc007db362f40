"""The knowledge base: experts, cases and sites. Fields mirror ``docs/knowledge-format.md``; fields
an import file carries that the format does not name are kept in ``extra``, so an export gives
them back (lossless round trip)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.models.base import Base, UTCDateTime, state_column, utcnow
from knowledge.states import TeamLevel


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
    wechat_openid: Mapped[str | None] = mapped_column(
        String(64), unique=True, index=True, doc="the WeChat service account openid it bound"
    )
    wecom_userid: Mapped[str | None] = mapped_column(
        String(64), unique=True, index=True, doc="the WeCom user id (通讯录 账号)"
    )
    max_open_tickets: Mapped[int] = mapped_column(Integer, default=5)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    team_ids: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
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
    expert_id: Mapped[str | None] = mapped_column(ForeignKey("experts.id", ondelete="SET NULL"), index=True)
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
    station: Mapped[str | None] = mapped_column(
        ForeignKey("stations.id", ondelete="SET NULL"), index=True, doc="its steward's service station"
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Team(Base):
    """A team of the programme (city, county, industry alliance, enterprise or park): the tiers
    an unclaimed ticket is offered to follow them."""

    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[TeamLevel] = mapped_column(state_column(TeamLevel, 12), index=True)
    region: Mapped[str | None] = mapped_column(String(100))
    industries: Mapped[list[str]] = mapped_column(JSON, default=list)
    contact: Mapped[str | None] = mapped_column(String(200))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Station(Base):
    """A service point or station: groups sites; its steward collects their problems."""

    __tablename__ = "stations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100))
    contact: Mapped[str | None] = mapped_column(String(200))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
