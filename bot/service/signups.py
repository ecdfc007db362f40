"""Signing up for a class, and attendance: a worker signs up with name, enterprise and phone
(no account: a private link, whose SHA-256 is stored, shows the sign-up and cancels it); the
steward ticks attendees on /admin, or an attendee marks themselves present with the door QR code.

Capacity holds under concurrent sign-ups: the class row is locked (``FOR UPDATE`` on
PostgreSQL; SQLite has one writer at a time, and the ``WriteGate`` queues this process's) and
the seats are counted in the same transaction as the insert; the unique index on
(class, phone) refuses a second sign-up of one phone whatever the timing.

The door code is an HMAC-SHA256 of the class and its start time under a key derived from the
admin token, so it cannot be guessed without the token, stops working when the class is moved,
and needs no storage; it is accepted from 2 h before the start to 4 h after it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.service.classes import ClassInfo, describe, find_class
from bot.service.secrets import new_token, same_secret, token_hash
from bot.service.validation import clean_phone, clean_text
from knowledge.db import WriteGate
from knowledge.errors import AccessDeniedError, ConflictError, InvalidInputError, NotFoundError
from knowledge.models import ClassSignup, TrainingClass

MAX_NAME_CHARS = 50
MAX_ENTERPRISE_CHARS = 100
DOOR_OPENS = timedelta(hours=2)  # before the start
DOOR_CLOSES = timedelta(hours=4)  # after the start


@dataclass(frozen=True)
class SignupStatus:
    """What the sign-up link shows."""

    id: str
    name: str
    enterprise: str
    phone: str
    signed_up_at: datetime
    attended_at: datetime | None
    cancelled_at: datetime | None
    course: ClassInfo  # the recording link once set; the online link of a cloud class

    @classmethod
    def of(cls, signup: ClassSignup, course: ClassInfo) -> SignupStatus:
        return cls(
            signup.id,
            signup.name,
            signup.enterprise,
            signup.phone,
            signup.signed_up_at,
            signup.attended_at,
            signup.cancelled_at,
            course,
        )


async def sign_up(
    session: AsyncSession,
    gate: WriteGate,
    class_id: str,
    name: str,
    enterprise: str,
    phone: str,
    now: datetime,
    telegram_chat_id: int | None = None,
) -> tuple[SignupStatus, str]:
    """A sign-up and its private token (shown once). 404 unknown or cancelled class, 409 started,
    full (名额已满) or this phone already signed up (已报名). A phone that cancelled signs up again
    on its old row, with a new token."""
    name = clean_text(name, "name", MAX_NAME_CHARS, "name")
    enterprise = clean_text(enterprise, "enterprise", MAX_ENTERPRISE_CHARS, "enterprise")
    phone = clean_phone(phone)
    token = new_token()
    async with gate.writing(session):
        try:
            course = (
                await session.scalars(
                    select(TrainingClass).where(TrainingClass.id == class_id).with_for_update()
                )
            ).one_or_none()
            if course is None or not course.active:
                raise NotFoundError(f"no class {class_id!r} open for sign-up")
            if course.starts_at <= now:
                raise ConflictError(texts.CLASS_STARTED)
            mine = await session.scalar(
                select(ClassSignup).where(ClassSignup.class_id == class_id, ClassSignup.phone == phone)
            )
            if mine is not None and mine.cancelled_at is None:
                raise ConflictError(texts.CLASS_SIGNED_UP)
            taken = await session.scalar(
                select(func.count())
                .select_from(ClassSignup)
                .where(ClassSignup.class_id == class_id, ClassSignup.cancelled_at.is_(None))
            )
            if course.capacity is not None and (taken or 0) >= course.capacity:
                raise ConflictError(texts.CLASS_FULL)
            if mine is None:
                mine = ClassSignup(id=uuid.uuid4().hex, class_id=class_id, phone=phone)
                session.add(mine)
            mine.token_hash, mine.name, mine.enterprise = token_hash(token), name, enterprise
            mine.signed_up_at, mine.cancelled_at, mine.attended_at = now, None, None
            mine.telegram_chat_id = telegram_chat_id
            await session.commit()
        except IntegrityError:
            await session.rollback()
            raise ConflictError(texts.CLASS_SIGNED_UP) from None
        except BaseException:
            await session.rollback()
            raise
    return await signup_status(session, mine.id, token), token


async def _own_signup(session: AsyncSession, signup_id: str, token: str | None) -> ClassSignup:
    """The sign-up the link names; 404 for an unknown id or a wrong token alike."""
    signup = await session.get(ClassSignup, signup_id)
    if signup is None or not token or not same_secret(token_hash(token), signup.token_hash):
        raise NotFoundError("no sign-up with this link")
    return signup


async def signup_status(session: AsyncSession, signup_id: str, token: str | None) -> SignupStatus:
    signup = await _own_signup(session, signup_id, token)
    (course,) = await describe(session, [await find_class(session, signup.class_id)])
    return SignupStatus.of(signup, course)


async def cancel_signup(
    session: AsyncSession, gate: WriteGate, signup_id: str, token: str | None, now: datetime
) -> SignupStatus:
    """The worker withdraws (the seat is free again); 409 once attended."""
    signup = await _own_signup(session, signup_id, token)
    if signup.attended_at is not None:
        raise ConflictError(texts.CLASS_ATTENDED)
    if signup.cancelled_at is None:
        async with gate.writing(session):
            signup.cancelled_at = now
            await session.commit()
    return await signup_status(session, signup_id, token)


# ---- attendance ------------------------------------------------------------------------------


async def class_signups(session: AsyncSession, class_id: str) -> list[ClassSignup]:
    """Everyone who signed up (cancelled ones too), in the order they did."""
    return list(
        (
            await session.scalars(
                select(ClassSignup)
                .where(ClassSignup.class_id == class_id)
                .order_by(ClassSignup.signed_up_at, ClassSignup.id)
            )
        ).all()
    )


async def record_attendance(
    session: AsyncSession, gate: WriteGate, class_id: str, present: list[str], now: datetime
) -> list[ClassSignup]:
    """The steward's ticks: the sign-ups in ``present`` attended (their first time kept), the
    others did not. 422 for an id that is not a sign-up of the class, or a cancelled one."""
    signups = await class_signups(session, class_id)
    open_ids = {s.id for s in signups if s.cancelled_at is None}
    if unknown := sorted(set(present) - open_ids):
        raise InvalidInputError(f"present: not a sign-up of this class (or cancelled): {', '.join(unknown)}")
    async with gate.writing(session):
        for signup in signups:
            if signup.id in present:
                signup.attended_at = signup.attended_at or now
            elif signup.cancelled_at is None:
                signup.attended_at = None
        await session.commit()
    return signups


class DoorCodes:
    """The codes of the door QR codes, derived from a server secret (the admin token)."""

    def __init__(self, secret: str):
        self._key = hmac.new(secret.encode("utf-8"), b"craftdesk class door codes", hashlib.sha256).digest()

    def code(self, course: TrainingClass) -> str:
        message = f"{course.id}|{course.starts_at.isoformat()}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.b32encode(digest[:10]).decode("ascii").lower()  # 80 bits, 16 characters

    def window(self, course: TrainingClass) -> tuple[datetime, datetime]:
        return course.starts_at - DOOR_OPENS, course.starts_at + DOOR_CLOSES

    async def check_in(
        self, session: AsyncSession, gate: WriteGate, class_id: str, code: str, phone: str, now: datetime
    ) -> SignupStatus:
        """An attendee at the door marks themselves present: 403 wrong code, 409 outside the
        window (2 h before to 4 h after the start), 404 no sign-up of this phone."""
        course = await find_class(session, class_id)
        if not course.active or not same_secret(code.strip().lower(), self.code(course)):
            raise AccessDeniedError(texts.CLASS_DOOR_INVALID)
        opens, closes = self.window(course)
        if not opens <= now <= closes:
            raise ConflictError(texts.CLASS_DOOR_CLOSED)
        phone = clean_phone(phone)
        signup = await session.scalar(
            select(ClassSignup).where(
                ClassSignup.class_id == class_id,
                ClassSignup.phone == phone,
                ClassSignup.cancelled_at.is_(None),
            )
        )
        if signup is None:
            raise NotFoundError(texts.CLASS_DOOR_NO_SIGNUP)
        if signup.attended_at is None:
            async with gate.writing(session):
                signup.attended_at = now
                await session.commit()
        (info,) = await describe(session, [course])
        return SignupStatus.of(signup, info)
