"""``GET /api/admin/report`` and its .xlsx/.pdf over the real app, on the hand-counted data set
of tests/utils/report_data.py (no demo knowledge: its needs and classes would be in the period).
SQLite only: the counting itself runs on PostgreSQL too in tests/service/test_report.py."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from PIL import Image, ImageDraw
from pydantic import ValidationError

from bot.app import create_app
from bot.context import open_context
from bot.runtime import database
from bot.service.clock import FakeClock
from bot.service.experts import issue_token
from bot.service.qr_sheet import CjkFont, find_cjk_font
from bot.service.report_export import DPI, TITLE, draw_report
from bot.service.stewards import issue_steward_token, save_steward
from bot.settings import Settings
from knowledge.errors import MissingResourceError
from tests.utils.auth import ADMIN
from tests.utils.report_data import seed_report, utc
from tests.web.test_qr_sheet import DEJAVU, glyph_cells, pdf_page_png

PERIOD = {"from": "2026-10-01", "to": "2026-12-31"}
NOW = utc(12, 31, 20)  # 1 Jan 2027 04:00 in Shanghai: the default period is Nov 2026 to 1 Jan 2027


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


@pytest.fixture
async def world(settings, encoder) -> AsyncIterator[dict]:  # type: ignore[no-untyped-def]
    """The app on the seeded database, a steward of station ST2 and an expert, by token."""
    clock = FakeClock(NOW)
    async with database(settings) as (_, sessions):
        async with sessions() as session:
            await seed_report(session)
            await save_steward(session, clock, "wang", "王管家", ["ST2"], [])
            steward = await issue_steward_token(session, "wang", clock, utc(12, 1, year=2027) - NOW)
            expert = await issue_token(session, "E1", clock, utc(12, 1, year=2027) - NOW)
    async with open_context(settings, encoder=encoder, clock=clock) as context:
        app = create_app(context.settings, context)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            yield {
                "http": http,
                "steward": {"Authorization": f"Bearer {steward}"},
                "expert": {"Authorization": f"Bearer {expert}"},
            }


async def test_the_report_as_json_for_the_admin_and_a_steward(world):
    http = world["http"]
    body = (await http.get("/api/admin/report", headers=ADMIN, params=PERIOD | {"by": "county"})).json()
    assert body["period"]["from"] == "2026-10-01" and body["period"]["timezone"] == "Asia/Shanghai"
    totals = body["totals"]
    # the names the other lines' browser tests read; the values as hand-counted in test_report.py
    assert (totals["help_sessions"], totals["solved_onsite"], totals["training_attendances"]) == (6, 1, 3)
    assert totals["workers_reached"] == 51 and totals["workers_reached_parts"] == {
        "askers": 4,
        "attendees": 2,
        "need_workers": 45,
    }
    assert (totals["help_sessions_online"], totals["help_sessions_onsite"], totals["solved_online"]) == (
        4,
        2,
        6,
    )
    assert totals["anonymous_questions"] == 1
    assert (
        totals["first_response_minutes"]["median"] == 90.0 and totals["resolution_minutes"]["p90"] == 21600.0
    )
    assert [(r["key"], r["label"], r["help_sessions"]) for r in body["rows"]] == [
        ("邳州市", "邳州市", 3),
        ("铜山区", "铜山区", 3),
    ]
    assert [e["name"] for e in body["experts"]] == ["王师傅", "李师傅", "张师傅"]

    mine = (await http.get("/api/admin/report", headers=world["steward"], params=PERIOD)).json()
    assert mine["scope"] == {"station_ids": ["ST2"], "regions": [], "sites": 2}
    assert (mine["totals"]["help_sessions"], mine["totals"]["training_attendances"]) == (
        3,
        1,
    )  # the 邳州市 row
    assert "王师傅" not in str(mine["experts"])  # E1 did nothing in ST2's scope

    default = (await http.get("/api/admin/report", headers=ADMIN)).json()
    assert (default["period"]["from"], default["period"]["to"]) == ("2026-11-01", "2027-01-01")
    assert default["rows"][0]["label"] == "全市"


BAD = [
    ({"from": "2026-13-01", "to": "2026-12-31"}, "from: not a date"),
    ({"from": "2026-10-01", "to": "31/12/2026"}, "to: not a date"),
    ({"from": "2026-12-31", "to": "2026-10-01"}, "from: 2026-12-31 is after to 2026-10-01"),
    ({"from": "2025-01-01", "to": "2026-12-31"}, "to: the period is 730 days long; at most 400"),
    ({"by": "site"}, "by: one of city, county, industry, team, station"),
]


async def test_bad_periods_get_422_naming_the_parameter(world):
    for params, fragment in BAD:
        for path in ("/api/admin/report", "/api/admin/report.xlsx", "/api/admin/report.pdf"):
            response = await world["http"].get(path, headers=ADMIN, params=params)
            assert response.status_code == 422 and fragment in response.json()["detail"], (
                path,
                response.text,
            )


async def test_only_the_admin_and_stewards_get_it(world):
    http = world["http"]
    for path in ("/api/admin/report", "/api/admin/report.xlsx", "/api/admin/report.pdf"):
        assert (await http.get(path, headers=world["expert"])).status_code == 403
        assert (await http.get(path)).status_code == 401


async def test_the_workbook_has_the_same_figures(world):
    http = world["http"]
    body = (
        await http.get("/api/admin/report", headers=world["steward"], params=PERIOD | {"by": "team"})
    ).json()
    response = await http.get(
        "/api/admin/report.xlsx", headers=world["steward"], params=PERIOD | {"by": "team"}
    )
    assert response.status_code == 200
    assert 'filename="craftdesk-report_2026-10-01_2026-12-31.xlsx"' in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["汇总", "分组", "师傅"]
    figures = {row[2]: row[1] for row in book["汇总"].iter_rows(min_row=6, values_only=True) if row[2]}
    for key in ("help_sessions", "solved_onsite", "training_attendances", "workers_reached", "solved_online"):
        assert figures[key] == body["totals"][key], key
    assert figures["first_response_minutes.median"] == body["totals"]["first_response_minutes"]["median"]
    assert figures["workers_reached_parts.askers"] == body["totals"]["workers_reached_parts"]["askers"]
    groups = list(book["分组"].iter_rows(values_only=True))
    assert groups[0][:2] == ("团队", "帮扶服务")
    assert [(r[0], r[1]) for r in groups[1:]] == [
        (row["label"], row["help_sessions"]) for row in body["rows"]
    ]
    experts = list(book["师傅"].iter_rows(min_row=2, values_only=True))
    assert [(e[1], e[2], e[6]) for e in experts] == [
        (e["expert_id"], e["name"], e["total"]) for e in body["experts"]
    ]


def ink_cells(text: str, font: CjkFont, folder: Path) -> list[bytes]:
    """The text drawn alone with ``font`` and saved as the report is (1-bit PDF), rendered by
    poppler and cut into a cell per character."""
    from bot.service.qr_sheet import SheetPage, sheet_pdf

    image = Image.new("L", (1200, 300), 255)
    ImageDraw.Draw(image).text((20, 20), text, font=font.at(150), fill=0)
    rendered = pdf_page_png(sheet_pdf([SheetPage(image)], DPI), folder)
    return glyph_cells(rendered, len(text))


def distinct(cells: list[bytes]) -> bool:
    return all(
        sum(a != b for a, b in zip(cells[i], cells[j], strict=True)) > 0.15 * len(cells[i])
        for i in range(len(cells))
        for j in range(i + 1, len(cells))
    )


async def test_the_pdf_shows_the_chinese_title_as_glyphs(world, tmp_path: Path):
    try:
        font = find_cjk_font()
    except MissingResourceError as exc:
        pytest.skip(f"no font with Chinese glyphs: {exc}")
    response = await world["http"].get(
        "/api/admin/report.pdf", headers=ADMIN, params=PERIOD | {"by": "county"}
    )
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    body = (
        await world["http"].get("/api/admin/report", headers=ADMIN, params=PERIOD | {"by": "county"})
    ).json()
    boxes = draw_report(body, font)[0].boxes[0]
    (tmp_path / "report").mkdir()
    page = pdf_page_png(response.content, tmp_path / "report", DPI)
    assert page.getextrema()[0] < 64, "the page is blank"
    title = glyph_cells(page.crop(boxes["title"]), len(TITLE))
    assert distinct(title), "the title's characters look alike: no Chinese glyphs"
    assert page.crop(boxes["help_sessions"]).getextrema()[0] < 64  # the headline figure is printed
    # the same check fails on a font without Chinese: every character is the same box (or nothing)
    if DEJAVU.is_file():
        (tmp_path / "dejavu").mkdir()
        try:
            tofu = ink_cells(TITLE, CjkFont(DEJAVU), tmp_path / "dejavu")
        except AssertionError:  # a blank cell: nothing drawn at all
            tofu = []
        assert not tofu or not distinct(tofu)


def test_an_unknown_time_zone_is_refused_at_start(monkeypatch):
    monkeypatch.delenv("CRAFTDESK_REPORT_TIMEZONE", raising=False)
    with pytest.raises(ValidationError, match="unknown time zone 'Asia/Atlantis'"):
        Settings(report_timezone="Asia/Atlantis")
    assert Settings().report_zone.key == "Asia/Shanghai"
