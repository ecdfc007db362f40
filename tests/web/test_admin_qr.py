"""The admin page's QR downloads in headless Chromium: a sheet of the ticked sites only, and the
confirmation the steward gives when the public URL is a local address (the 409 of the API)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from tests.utils.demo import DEMO_SITES
from tests.web.conftest import ADMIN_TOKEN

REFUSAL = "二维码地址 http://127.0.0.1 是本机或内网地址 / The public URL is a loopback address"


def admin_sites(page, url: str) -> None:
    page.goto(f"{url}/admin#sites")
    page.fill("#admin-token", ADMIN_TOKEN)
    page.click("#login button[type=submit]")
    expect(page.locator("#sites tr")).to_have_count(DEMO_SITES)


def test_the_sheet_of_the_ticked_sites_after_the_steward_confirms_the_intranet(live, desktop):
    """The live server's address is declared an intranet's; here the API's refusal is played by
    the browser's network layer, so the page's side of it is what is tested."""
    asked: list[str] = []
    dialogs: list[str] = []

    def refuse_unless_confirmed(route) -> None:  # type: ignore[no-untyped-def]
        asked.append(route.request.url)
        if "intranet=true" in route.request.url:
            route.continue_()
        else:
            route.fulfill(status=409, content_type="application/json", body=json.dumps({"detail": REFUSAL}))

    def public_url(route) -> None:  # type: ignore[no-untyped-def]
        state = {"public_url": "http://127.0.0.1", "local": True, "intranet": False, "detail": REFUSAL}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(state))

    page = desktop.new_page()
    page.route("**/api/admin/qr-sheet.pdf*", refuse_unless_confirmed)
    page.route("**/api/admin/public-url", public_url)
    admin_sites(page, live.url)
    expect(page.locator("#public-url-note")).to_have_text(REFUSAL)
    expect(page.locator("#sheet-choice")).to_have_text("全部站点")

    rows = page.locator("#sites tr")
    first, third = rows.nth(0).get_attribute("data-site"), rows.nth(2).get_attribute("data-site")
    rows.nth(2).locator("input.pick").check()
    rows.nth(0).locator("input.pick").check()
    expect(page.locator("#sheet-choice")).to_have_text("已选 2 个站点")

    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.click("#sheet-pdf")
    expect(page.locator("#sheet-pdf")).to_be_enabled()
    assert len(dialogs) == 1 and REFUSAL in dialogs[0] and "厂区内网" in dialogs[0]
    assert len(asked) == 1  # cancelled: no second try

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_download() as sheet:
        page.click("#sheet-pdf")
    assert sheet.value.path().read_bytes().startswith(b"%PDF-")
    query = parse_qs(urlsplit(asked[-1]).query)
    assert query["site"] == [first, third] and query["intranet"] == ["true"]  # in the list's order

    with page.expect_download():  # confirmed once: not asked again on this page
        page.click("#sheet-pdf")
    assert "intranet=true" in asked[-1] and len(asked) == 4

    page.locator("#pick-all-cell input").check()
    expect(page.locator("#sheet-choice")).to_have_text(f"已选 {DEMO_SITES} 个站点")
    page.locator("#pick-all-cell input").uncheck()
    expect(page.locator("#sheet-choice")).to_have_text("全部站点")
    assert page.locator("#sites input.pick:checked").count() == 0


def test_no_note_when_the_address_prints_without_asking(live, desktop):
    page = desktop.new_page()
    admin_sites(page, live.url)
    expect(page.locator("#sites input.pick")).to_have_count(DEMO_SITES)
    expect(page.locator("#public-url-note")).to_be_hidden()
