"""Rosters uploaded on /admin as Excel or CSV: the blank template, a dry run that counts what
would change, and the import itself, which then starts an index rebuild. Admin token on every
call; the upload is read only after the token is checked (see ``bot/web/uploads.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from bot.providers import ReindexerDep, SessionDep
from bot.web.deps import AdminDep
from knowledge.errors import InvalidInputError
from knowledge.spreadsheet import import_spreadsheet, read_spreadsheet
from knowledge.workbook import template_workbook

router = APIRouter(prefix="/api/admin/import", tags=["admin"])

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
async def template(_: AdminDep) -> Response:
    data = await run_in_threadpool(template_workbook)
    return Response(
        data, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="roster-template.xlsx"'}
    )


@router.post("", response_model=ImportOut, openapi_extra=IMPORT_FORM)
async def import_roster(
    request: Request,
    _: AdminDep,
    session: SessionDep,
    reindexer: ReindexerDep,
    dry_run: bool = Query(True, description="only count what would change; write nothing"),
    kind: str | None = Query(None, description="what a CSV file holds when its name does not say"),
) -> ImportOut:
    """422 lists every problem (``problems``: file, sheet, row, column, message) and writes nothing."""
    data, filename = await _read_upload(request)
    roster = await run_in_threadpool(read_spreadsheet, data, filename, kind)  # CPU work off the loop
    report = await import_spreadsheet(session, roster, dry_run=dry_run)
    reindex = reindexer.start().as_dict() if report.changed and not dry_run else None
    return ImportOut(
        dry_run=dry_run,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        reindex=reindex,
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
