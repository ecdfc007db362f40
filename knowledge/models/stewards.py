"""Steward accounts (服务管家): a union steward looks after the sites of some service stations
or regions, on /admin, with a token an admin issued (only its SHA-256 is stored)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.models.base import Base, UTCDateTime


class Steward(Base):
    __tablename__ = "stewards"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    station_ids: Mapped[list[str]] = mapped_column(JSON, default=list, doc="stations in scope")
    regions: Mapped[list[str]] = mapped_column(JSON, default=list, doc="regions in scope (all their sites)")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    wecom_userid: Mapped[str | None] = mapped_column(
        String(64), unique=True, index=True, doc="the WeCom user id: escalations in scope reach it"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StewardToken(Base):
    __tablename__ = "steward_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    steward_id: Mapped[str] = mapped_column(ForeignKey("stewards.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
