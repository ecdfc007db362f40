"""Stewards (服务管家) on /admin: the administrator adds them, scopes them to service stations or
regions and issues their login links; everyone on the admin pages can list the stations."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from bot.providers import ClockDep, SessionDep, SettingsDep
from bot.service.qr import qr_svg
from bot.service.stewards import issue_steward_token, save_steward, steward_login_expiry
from bot.web.deps import AdminDep, StaffDep
from bot.web.schemas import Text, TokenOut
from knowledge.models import Station, Steward

router = APIRouter(prefix="/api/admin", tags=["admin"])


class StationOut(BaseModel):
    id: str
    name: str
    region: str | None
    contact: str | None


class StewardIn(BaseModel):
    name: Text = Field(max_length=100)
    station_ids: list[Text] = Field(default_factory=list, description="stations (stations.jsonl) in scope")
    regions: list[Text] = Field(default_factory=list, description="regions in scope: every site there")
    active: bool = True


class StewardOut(StewardIn):
    steward_id: str
    login_expires_at: str | None = None


@router.get("/stations", response_model=list[StationOut])
async def stations(_: StaffDep, session: SessionDep) -> list[StationOut]:
    rows = (await session.scalars(select(Station).order_by(Station.id))).all()
    return [StationOut(id=s.id, name=s.name, region=s.region, contact=s.contact) for s in rows]


@router.get("/stewards", response_model=list[StewardOut])
async def stewards(_: AdminDep, session: SessionDep, clock: ClockDep) -> list[StewardOut]:
    expiry = await steward_login_expiry(session, clock.now())
    return [
        _out(s, expiry.get(s.id)) for s in (await session.scalars(select(Steward).order_by(Steward.id))).all()
    ]


def _out(steward: Steward, login_expires_at: datetime | None = None) -> StewardOut:
    return StewardOut(
        steward_id=steward.id,
        name=steward.name,
        station_ids=steward.station_ids,
        regions=steward.regions,
        active=steward.active,
        login_expires_at=login_expires_at.isoformat() if login_expires_at else None,
    )


@router.put("/stewards/{steward_id}", response_model=StewardOut)
async def put_steward(
    steward_id: str, body: StewardIn, _: AdminDep, session: SessionDep, clock: ClockDep, response: Response
) -> StewardOut:
    """Add (201) or replace (200); 422 without a station or region, or for an unknown station.
    Deactivating ends their login at once."""
    steward, created = await save_steward(
        session, clock, steward_id, body.name, body.station_ids, body.regions, body.active
    )
    response.status_code = 201 if created else 200
    return _out(steward)


@router.post("/stewards/{steward_id}/token", status_code=201, response_model=TokenOut)
async def steward_token(
    steward_id: str, _: AdminDep, settings: SettingsDep, clock: ClockDep, session: SessionDep
) -> TokenOut:
    """A new login link (the earlier one stops working), with its QR code; the token rides in
    the link's fragment, never in a URL a server logs."""
    token = await issue_steward_token(session, steward_id, clock, timedelta(days=settings.steward_token_days))
    login_url = f"{settings.public_url}/admin#token={token}"
    return TokenOut(token=token, login_url=login_url, qr_svg=qr_svg(login_url).decode())
