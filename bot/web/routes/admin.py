"""Admin side: the administrator's token, or a steward's on the calls a steward may make (scoped
to the sites of their stations and regions: ``bot.web.deps.Staff``)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlalchemy import select

from bot.providers import (
    ClockDep,
    PublisherDep,
    ReindexerDep,
    RetrieverDep,
    SessionDep,
    SettingsDep,
    TicketsDep,
)
from bot.service.experts import expert_login_expiry, expert_names, experts_with_load, issue_token
from bot.service.labels import label_counts
from bot.service.outbox import dead_letters, retry_all_dead, retry_dead
from bot.service.publishing import candidates, discard
from bot.service.qr import check_printable, local_address, print_refusal, qr_png, qr_svg, site_cards, site_url
from bot.service.qr_sheet import find_cjk_font, render_sheet
from bot.service.stats import compute_stats
from bot.service.stats_csv import stats_csv
from bot.service.tickets import get_ticket
from bot.settings import Settings
from bot.web.deps import AdminDep, StaffDep
from bot.web.present import expert_card, expert_ticket
from bot.web.schemas import (
    AdminExpertOut,
    AdminSiteOut,
    AdminTicketOut,
    AssignRequest,
    CandidateOut,
    DeadLetterOut,
    PublishRequest,
    RetriedOut,
    TokenOut,
)
from knowledge.errors import NotFoundError
from knowledge.models import OutboxEvent, Site, Team, Ticket
from knowledge.states import TicketStatus, Tier

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.post("/reindex", status_code=202)
async def reindex(_: AdminDep, reindexer: ReindexerDep) -> dict:
    """Start a full rebuild; the service switches to the new index when it is complete. While
    another instance rebuilds, its rebuild is reported (``instance``, ``started_at``) instead."""
    return (await reindexer.start()).as_dict()


@router.get("/reindex")
async def reindex_status(_: AdminDep, reindexer: ReindexerDep) -> dict:
    """This instance's rebuild, or the one another instance is running."""
    return (await reindexer.status()).as_dict()


@router.get("/me")
async def me(staff: StaffDep) -> dict:
    """Who the token belongs to, for the page to adapt: the administrator or a steward."""
    if staff.steward is None:
        return {"role": "admin", "name": None, "station_ids": [], "regions": [], "sites": None}
    steward = staff.steward
    return {
        "role": "steward",
        "name": steward.name,
        "station_ids": steward.station_ids,
        "regions": steward.regions,
        "sites": sorted(staff.sites or ()),
    }


@router.get("/stats")
async def stats(
    staff: StaffDep,
    session: SessionDep,
    since: datetime | None = Query(None),
    until: datetime | None = Query(None),
) -> dict:
    return await compute_stats(session, since, until, sites=staff.sites)


@router.get("/stats.csv")
async def stats_csv_download(
    staff: StaffDep,
    session: SessionDep,
    since: datetime | None = Query(None),
    until: datetime | None = Query(None),
) -> Response:
    """The figures of ``/stats`` (same window) as a CSV Excel opens with its Chinese intact."""
    report = await compute_stats(session, since, until, sites=staff.sites)
    return Response(
        stats_csv(report).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="craftdesk-stats.csv"'},
    )


@router.get("/learning")
async def learning(_: AdminDep, retriever: RetrieverDep, session: SessionDep) -> dict:
    """What the decision policy can learn from and what it learnt last: the labelled pairs the
    product stored, by source, and the shipped calibration's fit (when, on what, its figures)."""
    calibration = retriever.calibration
    return {
        "labels": await label_counts(session),
        "calibration": None
        if calibration is None
        else {
            "suggest_threshold": calibration.suggest_threshold,
            "confirm_threshold": calibration.confirm_threshold,
            "reject_threshold": calibration.reject_threshold,
            **calibration.fit,
        },
    }


@router.get("/candidates", response_model=list[CandidateOut])
async def list_candidates(staff: StaffDep, session: SessionDep) -> list[CandidateOut]:
    found = [c for c in await candidates(session) if staff.sees(c.ticket.site_code)]
    names = await expert_names(session, (c.ticket.expert_id for c in found))
    sites = {s.code: s.name for s in (await session.scalars(select(Site))).all()}
    return [
        CandidateOut(
            ticket_id=c.ticket.id,
            question=c.ticket.text,
            answer=c.answer,
            expert_id=c.ticket.expert_id,
            expert_name=names.get(c.ticket.expert_id or ""),
            site=c.ticket.site_code,
            site_name=sites.get(c.ticket.site_code or ""),
            answered_at=c.ticket.first_answer_at.isoformat() if c.ticket.first_answer_at else None,
        )
        for c in found
    ]


@router.post("/candidates/{ticket_id}/discard", status_code=204)
async def discard_candidate(ticket_id: str, staff: StaffDep, session: SessionDep, clock: ClockDep) -> None:
    """Not to become a case: the answer leaves the candidates (409 unanswered or published)."""
    staff.check((await get_ticket(session, ticket_id)).site_code)
    await discard(session, ticket_id, clock)


@router.post("/candidates/{ticket_id}/publish", status_code=201)
async def publish(
    ticket_id: str, body: PublishRequest, staff: StaffDep, publisher: PublisherDep, session: SessionDep
) -> dict:
    staff.check((await get_ticket(session, ticket_id)).site_code)
    case = await publisher.publish(session, ticket_id, body.title, body.question, body.answer)
    return {"case_id": case.id}


@router.post("/experts/{expert_id}/token", status_code=201, response_model=TokenOut)
async def expert_token(
    expert_id: str, _: AdminDep, settings: SettingsDep, clock: ClockDep, session: SessionDep
) -> TokenOut:
    """A new login link; the expert's earlier links (and the phones logged in with them) stop
    working. The QR code comes in the answer: the token is never put in a URL query."""
    token = await issue_token(session, expert_id, clock, timedelta(days=settings.expert_token_days))
    # the token rides in the fragment: it never reaches a server log
    login_url = f"{settings.public_url}/expert#token={token}"
    return TokenOut(token=token, login_url=login_url, qr_svg=qr_svg(login_url).decode())


@router.get("/experts", response_model=list[AdminExpertOut])
async def experts(_: StaffDep, session: SessionDep, clock: ClockDep) -> list[AdminExpertOut]:
    """Every expert with the open tickets they hold now (their load) and their login's expiry."""
    logins = await expert_login_expiry(session, clock.now())
    teams = {team.id: team.name for team in (await session.scalars(select(Team))).all()}
    return [
        AdminExpertOut(
            expert_id=e.id,
            name=e.name,
            title=e.title,
            org=e.org,
            region=e.region,
            active=e.active,
            teams=[teams.get(t, t) for t in e.team_ids or []],
            open_tickets=load,
            max_open_tickets=e.max_open_tickets,
            login_expires_at=logins[e.id].isoformat() if e.id in logins else None,
        )
        for e, load in await experts_with_load(session)
    ]


async def _admin_ticket(session: SessionDep, ticket: Ticket) -> AdminTicketOut:
    out = await expert_ticket(session, ticket, "", with_messages=False)
    return AdminTicketOut(**out.model_dump(), expert=await expert_card(session, ticket.expert_id))


@router.get("/tickets", response_model=list[AdminTicketOut])
async def tickets(
    staff: StaffDep,
    session: SessionDep,
    tier: Tier | None = None,
    status: list[TicketStatus] | None = Query(None, description="one or more; default: any"),
) -> list[AdminTicketOut]:
    """The newest 500 tickets (of the tier, in one of the statuses), with who holds each."""
    query = select(Ticket).order_by(Ticket.created_at.desc()).limit(500)
    if staff.sites is not None:
        query = query.where(Ticket.site_code.in_(sorted(staff.sites)))
    if tier:
        query = query.where(Ticket.tier == tier)
    if status:
        query = query.where(Ticket.status.in_(status))
    return [await _admin_ticket(session, t) for t in (await session.scalars(query)).all()]


@router.post("/tickets/{ticket_id}/assign", response_model=AdminTicketOut)
async def assign(
    ticket_id: str, body: AssignRequest, staff: StaffDep, tickets: TicketsDep, session: SessionDep
) -> AdminTicketOut:
    staff.check((await get_ticket(session, ticket_id)).site_code)
    ticket = await tickets.assign(session, ticket_id, body.expert_id)
    return await _admin_ticket(session, ticket)


@router.get("/sites", response_model=list[AdminSiteOut])
async def sites(staff: StaffDep, settings: SettingsDep, session: SessionDep) -> list[AdminSiteOut]:
    return [
        AdminSiteOut(
            code=s.code,
            name=s.name,
            org=s.org,
            region=s.region,
            industry=s.industry,
            active=s.active,
            url=site_url(settings.public_url, s.code),
        )
        for s in (await session.scalars(select(Site).order_by(Site.code))).all()
        if staff.sees(s.code)
    ]


class PublicUrlOut(BaseModel):
    """The address the QR codes carry, and whether it can be printed without asking."""

    public_url: str
    local: bool  # loopback, private, link-local or localhost: phones on the mobile network fail
    intranet: bool  # CRAFTDESK_PUBLIC_URL_INTRANET: the operator said it is the intranet's on purpose
    detail: str | None  # why printing asks for a confirmation (Chinese / English); None when it won't


INTRANET = Query(
    False,
    description="print although the public URL is a loopback/private address: the steward "
    "confirms it is the factory intranet's address (otherwise 409)",
)


def _printable(settings: Settings, intranet: bool) -> None:
    check_printable(settings.public_url, intranet or settings.public_url_intranet)


@router.get("/public-url", response_model=PublicUrlOut)
async def public_url(_: StaffDep, settings: SettingsDep) -> PublicUrlOut:
    """For the sites page: the address the codes carry and whether printing will ask first."""
    return PublicUrlOut(
        public_url=settings.public_url,
        local=local_address(settings.public_url) is not None,
        intranet=settings.public_url_intranet,
        detail=None if settings.public_url_intranet else print_refusal(settings.public_url),
    )


@router.get("/qr-sheet.pdf")
async def qr_sheet(
    staff: StaffDep,
    settings: SettingsDep,
    session: SessionDep,
    site: list[str] | None = Query(None, description="site codes; default: all"),
    bot: str | None = Query(None, description="Telegram bot username for the deep link"),
    intranet: bool = INTRANET,
) -> Response:
    """The printable A4 sheet: one card per site (503 when the host has no Chinese font, 409
    when the public URL is a local address and ``intranet`` does not confirm it)."""
    for code in site or []:  # a steward: their own sites, all of them by default
        staff.check(code)
    cards = await site_cards(
        session, settings.public_url, site, bot or settings.telegram.bot_username, within=staff.sites
    )
    if not cards:
        raise NotFoundError("no active site to print")
    _printable(settings, intranet)
    pdf = await asyncio.to_thread(lambda: render_sheet(cards, find_cjk_font()))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="qr-sheet.pdf"'},
    )


async def _site(session: SessionDep, code: str) -> Site:
    site = await session.get(Site, code)
    if site is None:
        raise NotFoundError(f"no site {code!r}")
    return site


@router.get("/sites/{code}/qr.png")
async def site_qr_png(
    code: str, staff: StaffDep, settings: SettingsDep, session: SessionDep, intranet: bool = INTRANET
) -> Response:
    staff.check(code)
    site = await _site(session, code)
    _printable(settings, intranet)
    return Response(qr_png(site_url(settings.public_url, site.code)), media_type="image/png")


@router.get("/sites/{code}/qr.svg")
async def site_qr_svg(
    code: str, staff: StaffDep, settings: SettingsDep, session: SessionDep, intranet: bool = INTRANET
) -> Response:
    staff.check(code)
    site = await _site(session, code)
    _printable(settings, intranet)
    return Response(qr_svg(site_url(settings.public_url, site.code)), media_type="image/svg+xml")


# ---- notifications given up on (outbox dead letters) ---------------------------------------


def _dead_letter(event: OutboxEvent) -> DeadLetterOut:
    return DeadLetterOut(
        id=event.id,
        kind=event.kind,
        ticket_id=event.ticket_id,
        recipient=event.recipient,
        attempts=event.attempts,
        last_error=event.last_error,
        created_at=event.created_at.isoformat(),
        dead_at=event.dead_at.isoformat() if event.dead_at else "",
    )


@router.get("/outbox/dead", response_model=list[DeadLetterOut])
async def outbox_dead(_: AdminDep, session: SessionDep) -> list[DeadLetterOut]:
    return [_dead_letter(e) for e in await dead_letters(session)]


@router.post("/outbox/retry-dead", response_model=RetriedOut)
async def outbox_retry_all(_: AdminDep, session: SessionDep) -> RetriedOut:
    return RetriedOut(retried=await retry_all_dead(session))


@router.post("/outbox/{event_id}/retry", response_model=RetriedOut)
async def outbox_retry(event_id: int, _: AdminDep, session: SessionDep) -> RetriedOut:
    """Send it again on the next pass (404 unknown id, 409 not a dead letter)."""
    await retry_dead(session, event_id)
    return RetriedOut(retried=1)
