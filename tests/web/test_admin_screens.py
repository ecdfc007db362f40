"""The admin screens for going live, at phone size in headless Chromium: the tickets tab (the
admin queue, reassigning), the login link's warning and QR code, plain Chinese (no setting
names, no "W49" weeks) and every tab within reach of a thumb at 390 px."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import httpx
from playwright.sync_api import expect
from sqlalchemy import delete, update

from knowledge.models import ExpertToken, Ticket
from knowledge.states import TicketStatus, Tier
from tests.web.conftest import ADMIN_TOKEN, PHONE, on_db

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def escalated_ticket(live, text: str) -> str:
    """A ticket nobody took: as the escalation leaves it, in the admin queue."""
    opened = httpx.post(f"{live.url}/api/tickets", json={"text": text, "site": "xcmg-hv-3"})
    opened.raise_for_status()
    ticket_id = opened.json()["ticket_id"]

    async def to_admin(session) -> None:  # type: ignore[no-untyped-def]
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(tier=Tier.ADMIN, status=TicketStatus.OPEN, expert_id=None, version=Ticket.version + 1)
        )

    on_db(live.context.settings.db_url, to_admin)
    return ticket_id


def admin_login(page, url: str, tab: str) -> None:
    page.goto(f"{url}/admin#{tab}")
    page.fill("#admin-token", ADMIN_TOKEN)
    page.click("#login button[type=submit]")
    expect(page.locator(f"#tab-{tab}")).to_be_visible()


def test_the_queue_lists_an_escalated_ticket_and_reassigning_it_works(live, phone):
    text = f"<img src=x onerror=alert(1)> 注塑机模具异响 {uuid.uuid4().hex[:6]}"
    ticket_id = escalated_ticket(live, text)
    page = phone.new_page()
    admin_login(page, live.url, "tickets")

    queued = page.locator(f"#admin-queue .admin-ticket[data-ticket='{ticket_id}']")
    expect(queued).to_be_visible()
    expect(queued.locator(".text")).to_have_text(text)  # shown as text, never as markup
    assert queued.locator("img").count() == 0
    expect(queued.locator(".facts")).to_contain_text("徐工重型 三号车间")
    expect(queued.locator(".facts")).to_contain_text("管理员指派")
    expect(queued.locator(".facts")).to_contain_text("待认领")
    expect(queued.locator(".facts")).to_contain_text("无人")
    expect(queued.locator(".facts")).to_contain_text("分钟")
    expect(page.locator(f"#open-tickets .admin-ticket[data-ticket='{ticket_id}']")).to_be_visible()

    queued.locator("button.assign").click()  # nobody chosen yet
    expect(queued.locator(".result")).to_have_text("请先选择一位师傅。")
    select = queued.locator("select.reassign-expert")
    option = select.locator("option").nth(1)
    expert_id = option.get_attribute("value")
    name = option.inner_text().split(" · ")[0]
    select.select_option(expert_id)
    queued.locator("button.assign").click()

    expect(queued).to_have_count(0)
    held = page.locator(f"#open-tickets .admin-ticket[data-ticket='{ticket_id}']")
    expect(held.locator(".result")).to_have_text(f"已指派给 {name} 师傅。")
    expect(held.locator(".facts")).to_contain_text(name)
    expect(held.locator(".facts")).to_contain_text("待解答")
    stored = httpx.get(f"{live.url}/api/admin/tickets", headers=ADMIN, params={"status": "assigned"}).json()
    mine = next(t for t in stored if t["ticket_id"] == ticket_id)
    assert mine["expert"]["expert_id"] == expert_id


def test_a_new_login_link_warns_first_and_shows_a_qr_code(live, phone):
    experts = httpx.get(f"{live.url}/api/admin/experts", headers=ADMIN).json()
    expert = [e for e in experts if e["active"]][-1]
    before = httpx.post(f"{live.url}/api/admin/experts/{expert['expert_id']}/token", headers=ADMIN).json()
    old = {"Authorization": f"Bearer {before['token']}"}
    try:
        page = phone.new_page()
        admin_login(page, live.url, "experts")
        row = page.locator(f"#experts tr[data-expert='{expert['expert_id']}']")
        expect(row.locator(".login-state")).to_contain_text("前有效")

        dialogs: list[str] = []
        page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        row.locator("button.issue").click()
        expect(row.locator("button.issue")).to_be_visible()
        assert len(dialogs) == 1 and "之前的登录链接立即失效" in dialogs[0] and expert["name"] in dialogs[0]
        assert row.locator("input.login-link").count() == 0  # cancelled: nothing issued
        assert httpx.get(f"{live.url}/api/expert/tickets", headers=old).status_code == 200

        page.once("dialog", lambda dialog: dialog.accept())
        row.locator("button.issue").click()
        login_url = row.locator("input.login-link").input_value()
        assert login_url.startswith(f"{live.url}/expert#token=")
        qr = page.locator(f"#experts tr.login-qr-row[data-expert='{expert['expert_id']}'] img.login-qr")
        expect(qr).to_be_visible()
        assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
        assert qr.get_attribute("src").startswith("blob:")  # the token is in no URL a server sees
        box = qr.bounding_box()
        assert box is not None and box["width"] >= 150 and box["x"] + box["width"] <= PHONE["width"] + 1
        expect(page.locator("#experts .login-qr-row figcaption")).to_contain_text("扫码")
        assert row.locator("button", has_text="复制").bounding_box()["x"] < PHONE["width"]
        assert httpx.get(f"{live.url}/api/expert/tickets", headers=old).status_code == 401
    finally:  # the other browser tests issue this expert's link without a warning to accept

        async def revoke(session) -> None:  # type: ignore[no-untyped-def]
            await session.execute(delete(ExpertToken).where(ExpertToken.expert_id == expert["expert_id"]))

        on_db(live.context.settings.db_url, revoke)


def visible_text(page) -> str:
    return page.locator("body").inner_text()


def test_plain_chinese_and_every_tab_within_reach_on_a_phone(live, phone):
    escalated_ticket(live, "皮带机跑偏，调了托辊还是往一边跑")  # this week has a figure
    page = phone.new_page()
    page.goto(f"{live.url}/admin")
    expect(page.locator("#login")).to_be_visible()
    assert "CRAFTDESK_ADMIN_TOKEN" not in visible_text(page)
    expect(page.locator("label[for=admin-token]")).to_have_text("管理员令牌")
    page.fill("#admin-token", ADMIN_TOKEN)
    page.click("#login button[type=submit]")
    expect(page.locator("#sites tr").first).to_be_visible()
    assert "PNG/SVG" not in visible_text(page) and "CRAFTDESK_ADMIN_TOKEN" not in visible_text(page)
    assert "（可选）" not in visible_text(page)

    tabs = page.locator("#tabs button")
    assert tabs.count() == page.locator("main section.tab").count() >= 9  # a button per tab, 报告 among them
    for n in range(tabs.count()):
        tab = tabs.nth(n)
        box = tab.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (n, box)
        tab.click()
        expect(page.locator(f"#tab-{tab.get_attribute('data-tab')}")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.click("[data-tab=stats]")
    expect(page.locator("#charts figure.chart")).to_have_count(6)
    weekly = page.locator("#charts figure.chart").first
    expect(weekly.locator("svg text.chart-label").first).to_contain_text("月")
    charts_text = page.locator("#charts").text_content() or ""
    assert not re.search(r"W\d\d", charts_text) and not re.search(r"W\d\d", visible_text(page))
    monday = date.today() - timedelta(days=date.today().weekday())
    assert f"{monday.month}月{monday.day}日" in charts_text

    # the report: its four headline figures as the API counts them, a chart per figure
    page.click("[data-tab=report]")
    totals = httpx.get(f"{live.url}/api/admin/report", headers=ADMIN).json()["totals"]
    for figure in ("help_sessions", "solved_onsite", "training_attendances", "workers_reached"):
        tile = page.locator(f"#report-tiles [data-figure={figure}] .tile-value")
        expect(tile).to_have_text(str(totals[figure]))
    expect(page.locator("#report-charts figure.chart svg rect.chart-bar")).to_have_count(3)  # the city row
    expect(page.locator("#report-from")).not_to_have_value("")
    expect(page.locator("#report-times tr")).to_have_count(6)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_stats_over_chosen_dates_and_the_csv_download(live, phone):
    escalated_ticket(live, "空压机排气温度高，跳停了")
    page = phone.new_page()
    admin_login(page, live.url, "stats")
    total = page.locator("#totals .tile").first.locator(".tile-value")
    expect(total).not_to_have_text("0")
    # suggested, solved by a case, sent to a master and answered, side by side
    totals = httpx.get(f"{live.url}/api/admin/stats", headers=ADMIN).json()["totals"]
    tiles = page.locator("#totals .tile")
    expect(tiles.filter(has_text="推荐了案例").locator(".tile-value")).to_have_text(str(totals["suggested"]))
    solved = tiles.filter(has_text="案例直接解决").locator(".tile-value")
    expect(solved).to_contain_text(f"{totals['solved_by_suggestion']}（")
    expect(tiles.filter(has_text="转师傅工单").locator(".tile-value")).to_have_text(str(totals["tickets"]))

    later = date.today() + timedelta(days=30)
    page.fill("#stats-since", later.isoformat())
    page.fill("#stats-until", (later + timedelta(days=6)).isoformat())
    page.click("#stats-range button[type=submit]")
    expect(total).to_have_text("0")

    with page.expect_download() as csv_file:
        page.click("#stats-csv")
    assert csv_file.value.suggested_filename.endswith(".csv")
    content = csv_file.value.path().read_bytes()
    assert content.startswith(b"\xef\xbb\xbf") and "提问总数,0".encode() in content

    page.fill("#stats-until", (later - timedelta(days=1)).isoformat())  # before the start
    page.click("#stats-range button[type=submit]")
    expect(page.locator("#stats-range-error")).to_have_text("开始日期要早于结束日期。")

    page.click("#stats-all")
    expect(total).not_to_have_text("0")
    with page.expect_download() as everything:
        page.click("#stats-csv")
    assert "转师傅工单".encode() in everything.value.path().read_bytes()
