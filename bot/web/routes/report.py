"""The union's report (``bot.service.report``): JSON for the 报告 tab, and the same figures as an
Excel workbook and a PDF. The administrator sees everything; a steward their own scope."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from bot.providers import ClockDep, SessionDep, SettingsDep
from bot.service.qr_sheet import find_cjk_font
from bot.service.report import BREAKDOWNS, compute_report, default_period, local_today, parse_day
from bot.service.report_export import report_pdf, report_xlsx
from bot.web.deps import StaffDep

router = APIRouter(prefix="/api/admin", tags=["admin"])

From = Annotated[str | None, Query(alias="from", description="first local day, YYYY-MM-DD")]
To = Annotated[str | None, Query(alias="to", description="last local day (included), YYYY-MM-DD")]
By = Annotated[str, Query(description=f"breakdown: {', '.join(BREAKDOWNS)}")]


async def _report(
    staff: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    start: From = None,
    end: To = None,
    by: By = "city",
) -> dict[str, Any]:
    """The figures every format shows, as a dependency of the three routes. Left out,
    ``from``/``to`` are the default period: three calendar months up to today."""
    zone = settings.report_zone
    first, last = default_period(local_today(clock.now(), zone))
    return await compute_report(
        session,
        parse_day(start, "from") if start else first,
        parse_day(end, "to") if end else last,
        zone,
        by,
        staff.steward,
    )


Figures = Annotated[dict[str, Any], Depends(_report)]


def _download(content: bytes, media_type: str, report: dict[str, Any], ext: str) -> Response:
    period = report["period"]
    name = f"craftdesk-report_{period['from']}_{period['to']}.{ext}"
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/report")
async def report(figures: Figures) -> dict[str, Any]:
    return figures


@router.get("/report.xlsx")
async def report_workbook(figures: Figures) -> Response:
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _download(report_xlsx(figures), xlsx, figures, "xlsx")


@router.get("/report.pdf")
async def report_document(figures: Figures) -> Response:
    """503 when the host has no font with Chinese glyphs (as the QR sheet)."""
    pdf = await asyncio.to_thread(lambda: report_pdf(figures, find_cjk_font()))
    return _download(pdf, "application/pdf", figures, "pdf")
