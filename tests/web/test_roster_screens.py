"""The roster on /admin at phone size in headless Chromium: an expert and a site added, edited
and deactivated through the forms (with a warning first); an answer discarded as a candidate
and a published case crediting its expert, in the chat."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.conftest import ADMIN_TOKEN, PHONE, forget
from tests.web.test_browser import admin_login, ask, expert_auth

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ADDED_EXPERT, ADDED_SITE = "E91", "pz-motor-9"


@pytest.fixture(autouse=True, scope="module")
def demo_roster_again(live) -> Iterator[None]:
    yield
    forget(live, experts=(ADDED_EXPERT,), sites=(ADDED_SITE,))


def fill(form, field: str, value: str) -> None:
    form.locator(f"[data-field='{field}'] input, [data-field='{field}'] textarea").fill(value)


def test_an_expert_is_added_edited_and_deactivated_from_a_phone(live, phone):
    page = phone.new_page()
    admin_login(page, live.url, "experts")
    expect(page.locator("#experts tr[data-expert]").first).to_be_visible()
    page.click("#add-expert")
    form = page.locator("form.roster-form[data-kind='experts']")
    expect(form).to_be_visible()
    form.locator("button[type=submit]").click()  # nothing filled in: told what is missing, in Chinese
    expect(form.locator(".result")).to_contain_text("请填写：编号、姓名、专长")
    fill(form, "id", ADDED_EXPERT)
    fill(form, "name", "刘卫东")
    fill(form, "org", "邳州某电机有限公司")
    fill(form, "region", "邳州市")
    fill(form, "skills", "绕线机张力调整、电机绕组嵌线")
    fill(form, "max_open_tickets", "4")
    box = form.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"] + 1
    form.locator("button[type=submit]").click()
    expect(page.locator("#expert-saved")).to_contain_text("已添加：刘卫东")
    expect(page.locator("#expert-saved")).to_contain_text("检索索引正在更新")
    row = page.locator("#experts tr[data-expert='E91']")
    expect(row).to_contain_text("0 / 4")
    stored = httpx.get(f"{live.url}/api/admin/experts/E91", headers=ADMIN).json()
    assert stored["skills"] == ["绕线机张力调整", "电机绕组嵌线"] and stored["active"] is True

    row.locator("button.edit").click()
    form = page.locator("form.roster-form[data-kind='experts']")
    expect(form.locator("[data-field='id'] input")).to_have_attribute("readonly", "")
    fill(form, "max_open_tickets", "-1")
    form.locator("button[type=submit]").click()  # the server's check, pointed at the field
    expect(form.locator(".result")).to_contain_text("最多同时处理的工单数")
    expect(form.locator("[data-field='max_open_tickets'] input")).to_have_attribute("aria-invalid", "true")
    fill(form, "max_open_tickets", "3")
    form.locator("[data-field='active'] input").uncheck()
    dialogs: list[str] = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    form.locator("button[type=submit]").click()
    expect(page.locator("#expert-saved")).to_contain_text("已保存：刘卫东")
    assert "不再接新工单" in dialogs[0]
    expect(row).to_contain_text("停用")
    assert row.locator("button.issue").count() == 0  # a deactivated expert gets no login link
    listed = {e["expert_id"]: e for e in httpx.get(f"{live.url}/api/admin/experts", headers=ADMIN).json()}
    assert listed["E91"]["active"] is False and listed["E91"]["max_open_tickets"] == 3


def test_a_site_is_added_and_deactivated_and_its_code_then_opens_a_notice(live, phone):
    page = phone.new_page()
    admin_login(page, live.url, "sites")
    page.click("#add-site")
    form = page.locator("form.roster-form[data-kind='sites']")
    fill(form, "code", ADDED_SITE)
    fill(form, "name", "邳州某电机 九车间")
    fill(form, "org", "邳州某电机有限公司")
    fill(form, "region", "邳州市")
    form.locator("button[type=submit]").click()
    expect(page.locator("#site-saved")).to_contain_text("已添加：邳州某电机 九车间")
    row = page.locator("#sites tr[data-site='pz-motor-9']")
    expect(row.locator("input.pick")).to_be_visible()

    row.locator("button.edit").click()
    form = page.locator("form.roster-form[data-kind='sites']")
    form.locator("[data-field='active'] input").uncheck()
    page.once("dialog", lambda dialog: dialog.accept())
    form.locator("button[type=submit]").click()
    expect(row).to_contain_text("已停用")
    assert row.locator("input.pick").count() == 0  # not on the printed sheet

    chat = phone.new_page()
    chat.goto(f"{live.url}/c/pz-motor-9")
    expect(chat.locator("h1")).to_have_text("这个二维码已停用")


def test_candidates_show_names_can_be_discarded_and_a_published_case_credits_its_expert(live, phone):
    question = "拉丝机收线张力忽大忽小，铜线被拉细了"
    opened = httpx.post(f"{live.url}/api/tickets", json={"text": question, "site": "pz-motor-1"}).json()
    expert = opened["expert"]
    httpx.post(
        f"{live.url}/api/expert/tickets/{opened['ticket_id']}/answer",
        json={"text": "先查张力摆杆的气压和位置传感器，再看收线变频器的转矩限幅。"},
        headers=expert_auth(live.url, expert["expert_id"]),
    ).raise_for_status()
    page = phone.new_page()
    admin_login(page, live.url, "candidates")
    card = page.locator(f"#candidates .candidate[data-ticket='{opened['ticket_id']}']")
    expect(card).to_contain_text("邳州某电机 一车间")
    expect(card).to_contain_text(f"{expert['name']}师傅解答")

    page.once("dialog", lambda dialog: dialog.accept())
    card.locator("button.discard").click()
    expect(card).to_contain_text("已移出候选案例")
    listed = httpx.get(f"{live.url}/api/admin/candidates", headers=ADMIN).json()
    assert opened["ticket_id"] not in {c["ticket_id"] for c in listed}

    chat = phone.new_page()  # a demo case solved by 赵磊 (E06), suggested with its credit
    chat.goto(f"{live.url}/c/xcmg-hv-3")
    ask(chat, "数控车床一开机就报SV0401，急停松开了复位也没用")
    expect(chat.locator(".cases .case .credit").first).to_have_text("赵磊师傅解答")
