"""Needs lists on /admin (需求清单): the administrator sees every need, a steward those of their
stations and regions (any other is 403). Matching, scheduling, marking done, withdrawing and
publishing a solved need as a case; and each station's form link with its QR code."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from sqlalchemy import Select, or_, select

from bot.providers import IndexDep, NeedsDep, PublisherDep, RetrieverDep, SessionDep, SettingsDep
from bot.service.need_matching import propose
from bot.service.needs import get_need, in_scope, needs_in_scope
from bot.service.qr import qr_png
from bot.web.deps import Staff, StaffDep
from bot.web.present import photo_response
from bot.web.present_needs import staff_need, staff_need_detail
from bot.web.schemas import PublishRequest
from bot.web.schemas_needs import (
    DoneIn,
    MatchIn,
    NeedFormLinkOut,
    ScheduleIn,
    StaffNeedDetailOut,
    StaffNeedOut,
)
from knowledge.errors import AccessDeniedError, NotFoundError
from knowledge.models import Need, Station
from knowledge.states import NeedStatus

router = APIRouter(prefix="/api/admin", tags=["admin"])
OUT_OF_SCOPE = "outside the stations and regions this steward looks after"


def form_url(public_url: str, station_id: str) -> str:
    return f"{public_url.rstrip('/')}/n/{station_id}"


async def _need(session: SessionDep, staff: Staff, need_id: str) -> Need:
    """The need (404), if the caller looks after it (403)."""
    need = await get_need(session, need_id)
    if not in_scope(need, staff.steward):
        raise AccessDeniedError(OUT_OF_SCOPE)
    return need


def _stations_in_scope(staff: Staff) -> Select[Station]:
    """The stations a steward looks after: theirs, and those of their regions."""
    query = select(Station).order_by(Station.id)
    if staff.steward is not None:
        query = query.where(
            or_(
                Station.id.in_(staff.steward.station_ids or []),
                Station.region.in_(staff.steward.regions or []),
            )
        )
    return query


@router.get("/need-forms", response_model=list[NeedFormLinkOut])
async def need_forms(staff: StaffDep, settings: SettingsDep, session: SessionDep) -> list[NeedFormLinkOut]:
    """Each station's needs-list form link (the steward's own stations)."""
    return [
        NeedFormLinkOut(
            station_id=s.id, name=s.name, region=s.region, url=form_url(settings.public_url, s.id)
        )
        for s in (await session.scalars(_stations_in_scope(staff))).all()
    ]


@router.get("/need-forms/{station_id}/qr.png")
async def need_form_qr(
    station_id: str, staff: StaffDep, settings: SettingsDep, session: SessionDep
) -> Response:
    """The form link as a QR code, for the station to print or send to enterprise unions."""
    station = await session.scalar(_stations_in_scope(staff).where(Station.id == station_id))
    if station is None:
        if await session.get(Station, station_id) is None:
            raise NotFoundError(f"no station {station_id!r}")
        raise AccessDeniedError(OUT_OF_SCOPE)
    return Response(qr_png(form_url(settings.public_url, station.id)), media_type="image/png")


@router.get("/needs", response_model=list[StaffNeedOut])
async def list_needs(
    staff: StaffDep,
    session: SessionDep,
    status: list[NeedStatus] | None = Query(None, description="one or more; default: any"),
) -> list[StaffNeedOut]:
    """The newest 500 needs in the caller's scope."""
    return [await staff_need(session, n) for n in await needs_in_scope(session, staff.steward, status)]


@router.get("/needs/{need_id}", response_model=StaffNeedDetailOut)
async def one_need(
    need_id: str, staff: StaffDep, session: SessionDep, retriever: RetrieverDep, index: IndexDep
) -> StaffNeedDetailOut:
    """The need with the experts the ranking proposes and the teams of its region and industry."""
    need = await _need(session, staff, need_id)
    return await staff_need_detail(session, need, await propose(session, need, retriever, index))


@router.get("/needs/{need_id}/photos/{name}")
async def need_photo(
    need_id: str, name: str, staff: StaffDep, needs: NeedsDep, session: SessionDep
) -> Response:
    await _need(session, staff, need_id)
    return photo_response(await needs.photo(need_id, name), name)


@router.post("/needs/{need_id}/match", response_model=StaffNeedOut)
async def match(
    need_id: str, body: MatchIn, staff: StaffDep, needs: NeedsDep, session: SessionDep
) -> StaffNeedOut:
    """Ask experts to help (each is notified); 409 once done or withdrawn."""
    await _need(session, staff, need_id)
    return await staff_need(session, await needs.match(session, need_id, body.expert_ids))


@router.post("/needs/{need_id}/schedule", response_model=StaffNeedOut)
async def schedule(
    need_id: str, body: ScheduleIn, staff: StaffDep, needs: NeedsDep, session: SessionDep
) -> StaffNeedOut:
    """Online guidance or a visit, with its time and place; 409 before an expert accepted."""
    await _need(session, staff, need_id)
    need = await needs.schedule(session, need_id, body.help_mode, body.help_at, body.help_place)
    return await staff_need(session, need)


@router.post("/needs/{need_id}/done", response_model=StaffNeedOut)
async def done(
    need_id: str, body: DoneIn, staff: StaffDep, needs: NeedsDep, session: SessionDep
) -> StaffNeedOut:
    await _need(session, staff, need_id)
    need = await needs.done(session, need_id, body.outcome, body.outcome_note, body.workers_helped)
    return await staff_need(session, need)


@router.post("/needs/{need_id}/withdraw", response_model=StaffNeedOut)
async def withdraw(need_id: str, staff: StaffDep, needs: NeedsDep, session: SessionDep) -> StaffNeedOut:
    await _need(session, staff, need_id)
    return await staff_need(session, await needs.withdraw(session, need_id))


@router.post("/needs/{need_id}/publish", status_code=201)
async def publish(
    need_id: str, body: PublishRequest, staff: StaffDep, publisher: PublisherDep, session: SessionDep
) -> dict:
    """A solved need as a case (409 unless done and solved, or when already published)."""
    await _need(session, staff, need_id)
    case = await publisher.publish_need(session, need_id, body.title, body.question, body.answer)
    return {"case_id": case.id}
