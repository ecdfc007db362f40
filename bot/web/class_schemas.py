"""Request and response bodies of the classes API (``bot/web/routes/classes.py``)."""

from __future__ import annotations

from urllib.parse import urlencode

from pydantic import BaseModel, Field

from bot.service.classes import ClassInfo
from bot.service.signups import SignupStatus
from bot.web.schemas import Text
from knowledge.models import ClassSignup
from knowledge.states import ClassKind


def class_page_url(class_id: str, site: str | None = None) -> str:
    """A class on the /classes page (the site's region first when the chat's site is known)."""
    query = {"class": class_id} | ({"site": site} if site else {})
    return f"/classes?{urlencode(query)}"


def signup_page_url(signup_id: str, token: str) -> str:
    """The private link of a sign-up: the token in the fragment, never sent in a request line."""
    return f"/classes/signup/{signup_id}#token={token}"


class ClassOut(BaseModel):
    """A class as workers see it (no online link: that is for those who signed up)."""

    class_id: str
    title: str
    kind: ClassKind
    teacher: str | None
    teacher_title: str | None
    starts_at: str = Field(description="ISO 8601, UTC; shown in Asia/Shanghai")
    minutes: int
    place: str | None
    topics: list[str]
    description: str | None
    capacity: int | None = Field(description="None: no limit")
    seats_left: int | None = Field(description="None: no limit")
    region: str | None


def class_out(info: ClassInfo) -> ClassOut:
    return ClassOut(
        class_id=info.id,
        title=info.title,
        kind=info.kind,
        teacher=info.teacher,
        teacher_title=info.teacher_title,
        starts_at=info.starts_at.isoformat(),
        minutes=info.minutes,
        place=info.place,
        topics=info.topics,
        description=info.description,
        capacity=info.capacity,
        seats_left=info.seats_left,
        region=info.region,
    )


class AdminClassOut(ClassOut):
    active: bool
    taken: int = Field(description="sign-ups not cancelled")
    online_url: str | None
    recording_url: str | None
    station_id: str | None
    teacher_id: str | None


def admin_class_out(info: ClassInfo) -> AdminClassOut:
    return AdminClassOut(
        **class_out(info).model_dump(),
        active=info.active,
        taken=info.taken,
        online_url=info.online_url,
        recording_url=info.recording_url,
        station_id=info.station_id,
        teacher_id=info.teacher_id,
    )


class SignupRequest(BaseModel):
    name: Text = Field(description="1-50 characters")
    enterprise: Text = Field(description="1-100 characters")
    phone: Text = Field(description="a phone number; +86, spaces and dashes are dropped")


class SignupOut(BaseModel):
    """A sign-up as its private link shows it."""

    signup_id: str
    name: str
    enterprise: str
    signed_up_at: str
    attended_at: str | None
    cancelled_at: str | None
    course: ClassOut
    online_url: str | None = Field(description="a cloud class's link, while the sign-up stands")
    recording_url: str | None = Field(description="once set after the class")


def signup_out(status: SignupStatus) -> SignupOut:
    standing = status.cancelled_at is None
    return SignupOut(
        signup_id=status.id,
        name=status.name,
        enterprise=status.enterprise,
        signed_up_at=status.signed_up_at.isoformat(),
        attended_at=status.attended_at.isoformat() if status.attended_at else None,
        cancelled_at=status.cancelled_at.isoformat() if status.cancelled_at else None,
        course=class_out(status.course),
        online_url=status.course.online_url if standing else None,
        recording_url=status.course.recording_url,
    )


class SignedUpOut(SignupOut):
    token: str = Field(description="shown once; send it as X-Signup-Token")
    url: str = Field(description="the private sign-up page, token included")


class DoorRequest(BaseModel):
    code: Text = Field(description="the door code from the QR link (?door=)")
    phone: Text


class CheckedInOut(BaseModel):
    title: str
    attended_at: str


class ClassSavedOut(BaseModel):
    outcome: str = Field(description="created, updated or unchanged")
    announced: int = Field(description="recording notices queued for the sign-ups")


class AttendanceRequest(BaseModel):
    present: list[Text] = Field(description="the sign-up ids that attended; the others did not")


class SignupRowOut(BaseModel):
    signup_id: str
    name: str
    enterprise: str
    phone: str
    signed_up_at: str
    attended_at: str | None
    cancelled_at: str | None


def signup_row(signup: ClassSignup) -> SignupRowOut:
    return SignupRowOut(
        signup_id=signup.id,
        name=signup.name,
        enterprise=signup.enterprise,
        phone=signup.phone,
        signed_up_at=signup.signed_up_at.isoformat(),
        attended_at=signup.attended_at.isoformat() if signup.attended_at else None,
        cancelled_at=signup.cancelled_at.isoformat() if signup.cancelled_at else None,
    )
