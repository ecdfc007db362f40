"""Stewards on /admin at phone size: the administrator adds one for a service station and issues
their login link; the link opens the admin page as that steward, with their own sites only and
without the administrator's tabs."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.web.conftest import ADMIN_TOKEN, PHONE
from tests.web.test_browser import admin_login

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_a_steward_is_added_and_their_link_opens_their_own_sites(live, phone):
    page = phone.new_page()
    admin_login(page, live.url, "stewards")
    page.click("#add-steward")
    page.fill("#steward-id", "wang-pz")
    page.fill("#steward-name", "王管家")
    page.locator(".steward-form fieldset label", has_text="邳州服务站").locator("input").check()
    page.click(".steward-form button[type=submit]")
    row = page.locator("#stewards tr[data-steward='wang-pz']")
    expect(row).to_contain_text("邳州服务站")
    row.locator("button.issue").click()
    login_url = row.locator("input.login-link").input_value()
    assert login_url.startswith(f"{live.url}/admin#token=")
    qr = page.locator("#stewards tr.login-qr-row img.login-qr")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"] + 1

    steward = phone.new_page()
    steward.goto(login_url)
    expect(steward.locator("#who")).to_contain_text("服务管家 王管家")
    assert "token" not in steward.url  # taken out of the address bar
    expect(steward.locator("#sites tr[data-site]").first).to_be_visible()
    codes = sorted(
        steward.locator("#sites tr[data-site]").evaluate_all("rows => rows.map(r => r.dataset.site)")
    )
    sites = httpx.get(f"{live.url}/api/admin/sites", headers=ADMIN).json()
    in_scope = sorted(s["code"] for s in sites if s["region"] in ("邳州市", "睢宁县"))  # the station's sites
    assert codes == in_scope and "xcmg-hv-3" not in codes
    for tab in ("experts", "index", "stewards"):
        expect(steward.locator(f"#tabs [data-tab={tab}]")).to_be_hidden()
    expect(steward.locator("#tabs [data-tab=import]")).to_be_visible()  # their own sites
    expect(steward.locator("#add-site")).to_be_hidden()
    steward.click("#tabs [data-tab=stats]")
    expect(steward.locator("#charts figure.chart").first).to_be_visible()
    expect(steward.locator("#learning")).to_be_hidden()
