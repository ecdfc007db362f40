"""Rosters uploaded on /admin as Excel or CSV: the blank template, a dry run that counts what
would change, and the import itself, which then starts an index rebuild. The administrator
imports anything; a steward only the sites (站点) of their own stations and regions. The upload is
read only after the token is checked (see ``bot/web/uploads.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from bot.providers import ClassesDep, ClockDep, ReindexerDep, SessionDep
from bot.service.classes import after_import
from bot.web.deps import Staff, StaffDep
from knowledge.errors import AccessDeniedError, InvalidInputError
from knowledge.interchange import SITES, SiteRecord
from knowledge.models import Site
from knowledge.spreadsheet import import_spreadsheet, read_spreadsheet
from knowledge.workbook import template_workbook

router = APIRouter(prefix="/api/admin/import", tags=["admin"])

INDEXED = ("experts", "cases")  # what the search index holds: a change to these needs a rebuild
MAX_IMPORT_BYTES = 10 * 1024 * 1024  # the edge refuses larger bodies (bot/web/edge.py)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IMPORT_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": ".xlsx or .csv"}
                    },
                }
            }
        },
    }
}


class ImportOut(BaseModel):
    dry_run: bool
    created: dict[str, int] = Field(description="per kind (teams, stations, experts, sites, cases)")
    updated: dict[str, int]
    unchanged: dict[str, int]
    reindex: dict[str, Any] | None = Field(None, description="the rebuild a real import started")


@router.get("/template.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}})
async def template(_: StaffDep) -> Response:
    data = await run_in_threadpool(template_workbook)
    return Response(
        data, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="roster-template.xlsx"'}
    )


@router.post("", response_model=ImportOut, openapi_extra=IMPORT_FORM)
async def import_roster(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    reindexer: ReindexerDep,
    classes: ClassesDep,
    clock: ClockDep,
    dry_run: bool = Query(True, description="only count what would change; write nothing"),
    kind: str | None = Query(None, description="what a CSV file holds when its name does not say"),
) -> ImportOut:
    """422 lists every problem (``problems``: file, sheet, row, column, message) and writes nothing."""
    data, filename = await _read_upload(request)
    roster = await run_in_threadpool(read_spreadsheet, data, filename, kind)  # CPU work off the loop
    if staff.steward is not None:
        await _check_steward_roster(session, staff, roster.parsed)
    report = await import_spreadsheet(session, roster, dry_run=dry_run)
    indexed = any(report.created.get(k) or report.updated.get(k) for k in INDEXED)
    reindex = (await reindexer.start()).as_dict() if indexed and not dry_run else None
    if not dry_run and (report.created.get("classes") or report.updated.get("classes")):
        await after_import(session, classes, clock.now())  # recordings announced, matcher refreshed
    return ImportOut(
        dry_run=dry_run,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        reindex=reindex,
    )


async def _check_steward_roster(
    session: SessionDep, staff: Staff, parsed: dict[str, list[tuple[int, Any]]]
) -> None:
    """A steward keeps the sites of their own stations and regions, nothing else (403): a new
    site must fall in them, a stored one must be theirs already (and stay so)."""
    assert staff.steward is not None and staff.sites is not None
    if others := [kind for kind, records in parsed.items() if kind != SITES.file and records]:
        raise AccessDeniedError(f"a steward imports sites only, not {', '.join(others)}")
    sites: list[tuple[int, SiteRecord]] = parsed.get(SITES.file, [])
    codes = [site.code for _, site in sites]
    stored = set((await session.scalars(select(Site.code).where(Site.code.in_(codes)))).all())
    stations, regions = set(staff.steward.station_ids), set(staff.steward.regions)
    outside = [
        f"row {row}: {site.code}"
        for row, site in sites
        if not _within(site, stations, regions) or (site.code in stored and site.code not in staff.sites)
    ]
    if outside:
        raise AccessDeniedError("sites outside this steward's stations and regions: " + "; ".join(outside))


def _within(site: SiteRecord, stations: set[str], regions: set[str]) -> bool:
    return (site.station is not None and site.station in stations) or (
        site.region is not None and site.region in regions
    )


async def _read_upload(request: Request) -> tuple[bytes, str]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInputError("file: send multipart/form-data with a 'file' (.xlsx or .csv)")
    async with request.form(max_files=1, max_fields=1) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInputError("file: the form has no 'file'")
        data = await upload.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            raise InvalidInputError(f"file: larger than {MAX_IMPORT_BYTES // 2**20} MB")
        return data, upload.filename or "upload"
