"""Request and response bodies of the needs-list API (``docs/api.md``: 需求清单). The service
checks the content (``bot.service.need_form``); these only give it its shape."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from bot.web.schemas import Text
from knowledge.states import HelpMode, MatchState, NeedOutcome, NeedStatus, TeamLevel, Urgency


class NeedIn(BaseModel):
    """The form. Photos follow, one per call, with the token the answer gives."""

    station_id: Text = Field(description="the station whose form link it came through")
    enterprise: Text
    contact_name: Text
    contact_phone: Text = Field(description="digits; spaces, dashes and +86 are allowed and dropped")
    industry: Text | None = None
    region: Text | None = Field(None, description="default: the station's region")
    problem: Text = Field(description="1-4000 characters")
    urgency: Text = Field(Urgency.NORMAL, description="normal, urgent or critical")
    help_wanted: list[Text] = Field(description="one or more of online, onsite, training")
    workers_affected: int = Field(0, description="0-100000")


class MatchedExpertOut(BaseModel):
    expert_id: str
    name: str
    title: str | None
    state: MatchState


class NeedOut(BaseModel):
    """A need as its filer sees it: where it stands and who helps, never the experts' contacts."""

    need_id: str
    status: NeedStatus
    station_id: str | None
    enterprise: str
    industry: str | None
    region: str | None
    problem: str
    urgency: Urgency
    help_wanted: list[HelpMode]
    workers_affected: int
    photos: list[str] = Field(description="photo URLs under the caller's own route")
    experts: list[MatchedExpertOut] = Field(description="the filer sees those who have not declined")
    help_mode: HelpMode | None
    help_at: str | None
    help_place: str | None
    outcome: NeedOutcome | None
    outcome_note: str | None
    workers_helped: int | None
    created_at: str
    closed_at: str | None
    can_withdraw: bool


class FiledNeedOut(NeedOut):
    token: str = Field(description="keep it: X-Need-Token for every later call; shown only once")
    status_url: str = Field(description="the filer's private status page (the token in its fragment)")


class StaffNeedOut(NeedOut):
    """The steward's view: the contact too, and what became of it."""

    contact_name: str
    contact_phone: str
    station_name: str | None
    published_case_id: str | None
    version: int


class ProposedExpertOut(BaseModel):
    expert_id: str
    name: str
    title: str | None
    region: str | None
    score: float
    available: bool = Field(description="active and below their capacity of open tickets")
    open_tickets: int
    max_open_tickets: int


class ProposedTeamOut(BaseModel):
    team_id: str
    name: str
    level: TeamLevel
    members: list[MatchedExpertOut] = Field(description="state: asked for every member (not yet matched)")


class StaffNeedDetailOut(StaffNeedOut):
    proposed: list[ProposedExpertOut] = Field(description="the ranking a ticket of this problem would get")
    teams: list[ProposedTeamOut]


class ExpertNeedOut(NeedOut):
    your_state: MatchState
    contact_name: str | None = Field(None, description="once you have accepted")
    contact_phone: str | None = None


class MatchIn(BaseModel):
    expert_ids: list[Text]


class ScheduleIn(BaseModel):
    help_mode: Text = Field(description="online, onsite or training")
    help_at: datetime = Field(description="ISO 8601 with a time zone")
    help_place: Text | None = Field(None, description="the address (required on site), or the meeting link")


class DoneIn(BaseModel):
    outcome: Text = Field(description="solved_onsite, solved_online or not_solved")
    outcome_note: Text | None = None
    workers_helped: int = Field(description="0-100000")


class NeedFormLinkOut(BaseModel):
    station_id: str
    name: str
    region: str | None
    url: str = Field(description="the form link the station's QR code carries")
