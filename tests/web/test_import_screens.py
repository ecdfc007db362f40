"""The 导入名单 tab at phone size in headless Chromium: a workbook with a bad cell shows the
problem table and imports nothing; a good one previews its counts, imports, and the rebuild it
starts is followed to the end."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.factories import xlsx_bytes
from tests.web.conftest import ADMIN_TOKEN, PHONE, forget
from tests.web.test_browser import admin_login

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ADDED_EXPERT, ADDED_SITE = "E95", "pz-motor-95"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEAD = ["编号", "姓名", "所属区县", "专长", "最多工单"]


@pytest.fixture(autouse=True, scope="module")
def demo_roster_again(live) -> Iterator[None]:
    yield
    forget(live, experts=(ADDED_EXPERT,), sites=(ADDED_SITE,))


def workbook(count: object) -> dict:
    data = xlsx_bytes(
        {
            "专家": [HEAD, [ADDED_EXPERT, "孙师傅", "邳州市", "绕线机张力调整、电机绕组嵌线", count]],
            "站点": [["编号", "名称", "地区"], [ADDED_SITE, "邳州某电机 九十五车间", "邳州市"]],
        }
    )
    return {"name": "名单.xlsx", "mimeType": XLSX, "buffer": data}


def test_a_roster_is_previewed_refused_then_imported_from_a_phone(live, phone):
    page = phone.new_page()
    admin_login(page, live.url, "import")
    with page.expect_download() as download:
        page.click("#import-template")
    assert download.value.suggested_filename == "roster-template.xlsx"

    page.set_input_files("#import-file", files=[workbook(2.5)])
    page.click("#import-preview")
    problems = page.locator(".import-problems")
    expect(problems).to_contain_text("文件里有 1 处问题")
    row = problems.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("专家")
    expect(row).to_contain_text("最多工单 (max_open_tickets)")
    expect(row).to_contain_text("must be a whole number, not 2.5")
    assert row.locator("td").nth(2).inner_text() == "2"
    expect(page.locator("#import-confirm")).to_be_disabled()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.set_input_files("#import-file", files=[workbook(3)])
    page.click("#import-preview")
    counts = page.locator("table.import-counts")
    expect(counts.locator("tr[data-kind=experts]")).to_have_text("专家100")
    expect(counts.locator("tr[data-kind=sites]")).to_have_text("站点100")
    assert httpx.get(f"{live.url}/api/admin/experts/{ADDED_EXPERT}", headers=ADMIN).status_code == 404
    box = page.locator("#import-confirm").bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]

    page.click("#import-confirm")
    expect(page.locator("#import-result h3")).to_have_text("已导入")
    expect(page.locator("#import-state")).to_have_attribute("data-state", "done", timeout=120_000)
    expect(page.locator("#import-bar")).to_have_attribute("style", "width: 100%;")
    stored = httpx.get(f"{live.url}/api/admin/experts/{ADDED_EXPERT}", headers=ADMIN).json()
    assert stored["max_open_tickets"] == 3 and stored["skills"] == ["绕线机张力调整", "电机绕组嵌线"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
