"""A needs list (需求清单) end to end in real Chromium: an enterprise union files a need on its
station's form at phone size; the station's steward matches a proposed expert in the 需求清单 tab;
the expert accepts in /expert; the steward schedules a visit and marks it solved on site; the
filer's private status link shows it solved."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect
from sqlalchemy import delete

from knowledge.models import Need, OutboxEvent, Steward
from tests.web.conftest import ADMIN_TOKEN, PHONE, on_db, report_tiles

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ENTERPRISE = "铜山某汽车零部件有限公司（浏览器测试）"


def test_a_need_is_filed_matched_accepted_scheduled_and_solved(live, phone, desktop):
    filer = phone.new_page()
    filer.goto(f"{live.url}/n/st-tongshan")
    expect(filer.locator("#station-name")).to_have_text("铜山服务站")
    filer.fill("#enterprise", ENTERPRISE)
    filer.fill("#contact-name", "刘主席")
    filer.fill("#contact-phone", "138-0516-0009")
    filer.fill("#industry", "汽车零部件")
    filer.fill("#problem", "冲压线压力机滑块偶发停顿，模具有磕碰痕迹，查了两周找不到原因")
    filer.click("#submit-need")
    expect(filer.locator("#form-error")).to_contain_text("需要的帮助")  # nothing chosen yet
    filer.locator("#help-wanted input[value=onsite]").check()
    filer.fill("#workers", "60")
    filer.click("#submit-need")
    link = filer.locator("#filed input.need-link")
    expect(link).to_be_visible()
    status_url = link.input_value()
    need_id = status_url.split("/needs/")[1].split("#")[0]
    expect(filer.locator("#status [data-status=submitted]")).to_be_visible()
    assert filer.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling

    try:
        body = {"name": "铜山管家", "station_ids": ["st-tongshan"]}
        httpx.put(f"{live.url}/api/admin/stewards/need-steward", headers=ADMIN, json=body).raise_for_status()
        login = httpx.post(f"{live.url}/api/admin/stewards/need-steward/token", headers=ADMIN).json()
        steward = desktop.new_page()
        steward.goto(login["login_url"])
        expect(steward.locator("#who")).to_contain_text("铜山管家")
        before = report_tiles(steward)
        steward.click("#tabs [data-tab=needs]")
        card = steward.locator(f"article.need-card[data-need='{need_id}']")
        expect(card).to_contain_text(ENTERPRISE)
        expect(steward.locator(".need-forms [data-station=st-tongshan] .form-link")).to_have_text(
            f"{live.url}/n/st-tongshan"
        )
        card.locator("button.open-need").click()
        first = card.locator(".proposed input[type=checkbox]").first
        expert_id = first.get_attribute("value")
        first.check()
        card.locator("form.need-match button.match").click()
        expect(card.locator(f".need-experts li[data-expert='{expert_id}']")).to_contain_text("待回复")

        issued = httpx.post(f"{live.url}/api/admin/experts/{expert_id}/token", headers=ADMIN).json()
        expert = phone.new_page()
        expert.goto(issued["login_url"])
        mine = expert.locator(f"#expert-needs li[data-need='{need_id}']")
        expect(mine).to_contain_text(ENTERPRISE)
        mine.locator("button.accept-need").click()
        expect(mine).to_contain_text("13805160009")  # the contact, once accepted

        card.locator("button.open-need").click()  # 收起
        card.locator("button.open-need").click()  # opened again: read anew
        expect(card.locator(f".need-experts li[data-expert='{expert_id}']")).to_contain_text("已接受")
        plan = card.locator("form.need-schedule")
        plan.locator("select").select_option("onsite")
        plan.locator("input[type=datetime-local]").fill("2026-11-20T09:30")
        plan.locator("input:not([type])").fill("铜山某汽车零部件有限公司 冲压车间")
        plan.locator("button.schedule").click()
        finish = card.locator("form.need-done")
        finish.locator("select").select_option("solved_onsite")
        finish.locator("textarea").fill("平衡缸减压阀失灵，更换后停顿消失。")
        finish.locator("input[type=number]").fill("55")
        finish.locator("button.done").click()
        expect(card.locator(".status")).to_have_text("已解决（上门服务）")
        expect(card.locator("form.need-publish")).to_be_visible()

        filer.goto(status_url)
        expect(filer.locator("#status [data-status=done]")).to_contain_text("已解决")
        expect(filer.locator("#status")).to_contain_text("受益职工 55 人")
        # the steward's report (报告 tab, this quarter so far) counts the visit and its workers
        after = report_tiles(steward)
        assert after["help_sessions"] == before["help_sessions"] + 1
        assert after["solved_onsite"] == before["solved_onsite"] + 1
        assert after["workers_reached"] == before["workers_reached"] + 55
    finally:

        async def remove(session) -> None:  # type: ignore[no-untyped-def]
            await session.execute(delete(OutboxEvent).where(OutboxEvent.ticket_id == need_id))
            await session.execute(delete(Need).where(Need.id == need_id))
            await session.execute(delete(Steward).where(Steward.id == "need-steward"))

        on_db(live.context.settings.db_url, remove)
