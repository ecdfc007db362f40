"""What the WeChat service account and WeCom channels keep: the workers known by openid (and
whether they want notifications), one-time expert binding codes, the single-use links that
sign an expert into the console from a notification, and the outbox events already sent on
each channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.models.base import Base, UTCDateTime, utcnow


class WeChatWorker(Base):
    """A worker the chat page identified through the service account's silent authorisation."""

    __tablename__ = "wechat_workers"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notify: Mapped[bool] = mapped_column(Boolean, default=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="when they turned notifications off")
    subscribed_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, doc="subscribe messages: when they last consented to one (used up by the next message)"
    )


class WeChatBindCode(Base):
    """A one-time link an admin or steward issued to tie a WeChat account (openid) to an expert:
    single use, expiring, only the code's SHA-256 stored."""

    __tablename__ = "wechat_bind_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expert_id: Mapped[str] = mapped_column(ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by: Mapped[str | None] = mapped_column(String(64), doc="the openid that used it")


class ExpertLinkCode(Base):
    """The link of one notification to an expert: opened once within minutes, it signs the
    expert into the console on that phone. Only the code's SHA-256 stored."""

    __tablename__ = "expert_link_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expert_id: Mapped[str] = mapped_column(ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChannelDelivery(Base):
    """An outbox event already sent on a channel (``wechat``, ``wecom``): a redelivery is dropped."""

    __tablename__ = "channel_deliveries"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
