"""Classes over HTTP: the upcoming catalogue, signing up (a private link per sign-up, its token
sent as ``X-Signup-Token``), the door check-in; and on /admin the catalogue in the caller's scope
(a steward: their stations' and regions' classes), the sign-ups, attendance and the door QR code.
Thin: the work is ``bot/service/classes.py`` and ``bot/service/signups.py``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Response

from bot.providers import ClassesDep, ClockDep, DoorDep, GateDep, SessionDep, SettingsDep
from bot.service.classes import class_record, save_class, staff_class, staff_classes, upcoming_classes
from bot.service.qr import qr_png
from bot.service.signups import (
    cancel_signup,
    class_signups,
    record_attendance,
    sign_up,
    signup_status,
)
from bot.web.class_schemas import (
    AdminClassOut,
    AttendanceRequest,
    CheckedInOut,
    ClassOut,
    ClassSavedOut,
    DoorRequest,
    SignedUpOut,
    SignupOut,
    SignupRequest,
    SignupRowOut,
    admin_class_out,
    class_out,
    signup_out,
    signup_page_url,
    signup_row,
)
from bot.web.deps import StaffDep, rate_limited
from knowledge.models import Site

router = APIRouter(tags=["classes"])
SignupToken = Annotated[str | None, Header(alias="X-Signup-Token")]
RECORD = Body(
    description="the class as a line of classes.jsonl (docs/knowledge-format.md); the id may be left out"
)


@router.get("/api/classes", response_model=list[ClassOut])
async def list_classes(
    session: SessionDep,
    clock: ClockDep,
    site: str | None = Query(None, description="a site code: classes of its region first"),
) -> list[ClassOut]:
    """Active classes that have not started, soonest first."""
    found = await session.get(Site, site) if site else None
    return [
        class_out(c) for c in await upcoming_classes(session, clock.now(), found.region if found else None)
    ]


@router.post(
    "/api/classes/{class_id}/signups",
    response_model=SignedUpOut,
    status_code=201,
    dependencies=[Depends(rate_limited("tickets"))],
)
async def create_signup(
    class_id: str, body: SignupRequest, session: SessionDep, clock: ClockDep, gate: GateDep
) -> SignedUpOut:
    """404 unknown or cancelled class; 409 started, full (名额已满) or already signed up (已报名)."""
    status, token = await sign_up(
        session, gate, class_id, body.name, body.enterprise, body.phone, clock.now()
    )
    return SignedUpOut(**signup_out(status).model_dump(), token=token, url=signup_page_url(status.id, token))


@router.get("/api/signups/{signup_id}", response_model=SignupOut)
async def get_signup(signup_id: str, session: SessionDep, token: SignupToken = None) -> SignupOut:
    """404 for an unknown sign-up and a wrong token alike."""
    return signup_out(await signup_status(session, signup_id, token))


@router.delete("/api/signups/{signup_id}", response_model=SignupOut)
async def delete_signup(
    signup_id: str, session: SessionDep, clock: ClockDep, gate: GateDep, token: SignupToken = None
) -> SignupOut:
    """Cancel one's own sign-up (409 once attended); cancelling again changes nothing."""
    return signup_out(await cancel_signup(session, gate, signup_id, token, clock.now()))


@router.post(
    "/api/classes/{class_id}/door",
    response_model=CheckedInOut,
    dependencies=[Depends(rate_limited("tickets"))],
)
async def door_check_in(
    class_id: str, body: DoorRequest, session: SessionDep, clock: ClockDep, gate: GateDep, door: DoorDep
) -> CheckedInOut:
    """An attendee marks themselves present: 403 wrong code, 409 outside 2 h before to 4 h after
    the start, 404 no sign-up of this phone."""
    status = await door.check_in(session, gate, class_id, body.code, body.phone, clock.now())
    assert status.attended_at is not None
    return CheckedInOut(title=status.course.title, attended_at=status.attended_at.isoformat())


# ---- on /admin ---------------------------------------------------------------------------------


@router.get("/api/admin/classes", response_model=list[AdminClassOut], tags=["admin"])
async def admin_classes(staff: StaffDep, session: SessionDep) -> list[AdminClassOut]:
    """Every class in the caller's scope, the latest first, cancelled and past ones too."""
    return [admin_class_out(c) for c in await staff_classes(session, staff.steward)]


@router.get("/api/admin/classes/{class_id}", tags=["admin"])
async def admin_class(class_id: str, staff: StaffDep, session: SessionDep) -> dict[str, Any]:
    """The class as its interchange object (the edit form starts from it)."""
    return await class_record(session, staff.steward, class_id)


@router.put("/api/admin/classes/{class_id}", response_model=ClassSavedOut, tags=["admin"])
async def put_class(
    class_id: str,
    staff: StaffDep,
    session: SessionDep,
    clock: ClockDep,
    classes: ClassesDep,
    response: Response,
    record: dict[str, Any] = RECORD,
) -> ClassSavedOut:
    """Add (201) or replace (200) a class; cancel it with ``active`` false. 422 lists every
    problem and saves nothing; 403 outside a steward's stations and regions. A recording link set
    or changed is sent to the sign-ups (``announced``)."""
    saved = await save_class(session, staff.steward, class_id, record, clock.now())
    await classes.refresh(session, clock.now())
    response.status_code = 201 if saved.outcome == "created" else 200
    return ClassSavedOut(outcome=saved.outcome, announced=saved.announced)


@router.get("/api/admin/classes/{class_id}/signups", response_model=list[SignupRowOut], tags=["admin"])
async def admin_signups(class_id: str, staff: StaffDep, session: SessionDep) -> list[SignupRowOut]:
    await staff_class(session, staff.steward, class_id)
    return [signup_row(s) for s in await class_signups(session, class_id)]


@router.post("/api/admin/classes/{class_id}/attendance", response_model=list[SignupRowOut], tags=["admin"])
async def admin_attendance(
    class_id: str,
    body: AttendanceRequest,
    staff: StaffDep,
    session: SessionDep,
    clock: ClockDep,
    gate: GateDep,
) -> list[SignupRowOut]:
    """The ticked sign-ups attended, the others not (the first tick's time is kept)."""
    await staff_class(session, staff.steward, class_id)
    return [
        signup_row(s) for s in await record_attendance(session, gate, class_id, body.present, clock.now())
    ]


@router.get(
    "/api/admin/classes/{class_id}/door.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
    tags=["admin"],
)
async def door_qr(
    class_id: str, staff: StaffDep, session: SessionDep, settings: SettingsDep, door: DoorDep
) -> Response:
    """The QR code for the door: ``/k/{class_id}?door=<code>``, valid 2 h before to 4 h after the start."""
    course = await staff_class(session, staff.steward, class_id)
    url = f"{settings.public_url}/k/{course.id}?door={door.code(course)}"
    return Response(qr_png(url), media_type="image/png", headers={"Cache-Control": "no-store"})
