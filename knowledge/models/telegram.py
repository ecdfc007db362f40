"""What the Telegram channel keeps: one-time bind codes, workers' chats, the messages buttons and
replies refer back to, and the outbox events already delivered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.models.base import Base, UTCDateTime, state_column, utcnow
from knowledge.states import Audience


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
    audience: Mapped[Audience] = mapped_column(state_column(Audience, 10))
    question_id: Mapped[str | None] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    case_id: Mapped[str | None] = mapped_column(String(64))
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TelegramDelivery(Base):
    """An outbox event already sent to Telegram: a redelivery of it is dropped."""

    __tablename__ = "telegram_deliveries"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
