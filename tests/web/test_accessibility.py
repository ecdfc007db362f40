"""axe-core (tests/web/vendor) on the pages in real headless Chromium at phone size: the worker's
chat with a suggested case and a routed ticket, an answered ticket, the expert console with a
ticket open, and every admin tab. No serious or critical WCAG 2.1 A/AA finding may remain;
colour contrast (axe's 'color-contrast', serious) is among them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.utils.auth import ADMIN
from tests.web.test_browser import ANSWER, NEW_PROBLEM, admin_login, ask, expert_auth, follow
from tests.web.test_worker_history import ROUTED, SUGGESTED

pytestmark = pytest.mark.slow

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_URL = "/__test__/axe.min.js"  # served from the page's origin: the app's CSP allows 'self' only
RUN_AXE = """() => axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
}).then((result) => result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
})))"""
BLOCKING = ("critical", "serious")
ADMIN_TABS = {  # each tab, and what shows it has loaded
    "sites": "#sites tr[data-site]",
    "tickets": "#open-tickets .admin-ticket",
    "candidates": "#candidates .candidate",
    "experts": "#experts tr[data-expert]",
    "stats": "#charts figure.chart",
    "report": "#report-tiles .tile",
    "index": "#reindex-state:not(:empty)",
    "import": "#import-preview",
    "stewards": "#stewards tr",
    "needs": "#needs .need-card",
    "classes": "#tab-classes section.class-card",
}


@pytest.fixture
def page(phone):
    phone.route(f"**{AXE_URL}", lambda route: route.fulfill(path=AXE, content_type="text/javascript"))
    return phone.new_page()


def assert_accessible(page, state: str) -> None:
    """axe on the page as it is now; fails listing each serious/critical rule, its first nodes
    and what is wrong with them."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(url=AXE_URL)
    found = [v for v in page.evaluate(RUN_AXE) if v["impact"] in BLOCKING]
    lines = [f"axe: {len(found)} serious/critical rule(s) fail on {state} ({page.url})"]
    for v in found:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}, {len(v['nodes'])} element(s)")
        lines += [f"    {n['target']}: {' '.join(n['summary'].split())}" for n in v["nodes"][:3]]
    assert not found, "\n".join(lines)


def opened_ticket(url: str, text: str = NEW_PROBLEM) -> dict:
    response = httpx.post(f"{url}/api/tickets", json={"text": text, "site": "xcmg-hv-3"})
    response.raise_for_status()
    return response.json()


def answered_ticket(url: str) -> dict:
    opened = opened_ticket(url)
    httpx.post(
        f"{url}/api/expert/tickets/{opened['ticket_id']}/answer",
        json={"text": ANSWER},
        headers=expert_auth(url, opened["expert"]["expert_id"]),
    ).raise_for_status()
    return opened


def test_chat_with_a_suggested_case_and_a_routed_ticket(live, page):
    page.goto(f"{live.url}/c/xcmg-hv-3")
    assert_accessible(page, "the empty chat")
    ask(page, SUGGESTED)
    expect(page.locator(".cases .case h3").first).to_be_visible()
    ask(page, ROUTED)
    ticket = page.locator(".ticket").last
    expect(ticket.locator(".expert-name")).to_be_visible()
    expect(ticket.locator(".status")).to_have_text("等待师傅接单")
    expect(page.locator(".bubble.pending")).to_have_count(0)
    assert_accessible(page, "the chat with a case and a ticket")


def test_an_answered_ticket_with_its_rating(live, page):
    follow(page, live.url, answered_ticket(live.url), NEW_PROBLEM)
    ticket = page.locator(".ticket")
    expect(ticket.locator(".msg.expert .text")).to_have_text(ANSWER)
    expect(ticket.locator(".rate")).to_be_visible()
    ticket.locator(".star").nth(3).click()
    page.click("#history summary")
    expect(page.locator("#history-list li")).to_have_count(1)
    assert_accessible(page, "an answered ticket")
    ticket.locator("button.close-ticket").click()
    expect(ticket.locator(".given-rating")).to_be_visible()
    assert_accessible(page, "a closed and rated ticket")


def test_the_expert_console_with_a_ticket_open(live, page):
    opened = opened_ticket(live.url)
    login = httpx.post(
        f"{live.url}/api/admin/experts/{opened['expert']['expert_id']}/token", headers=ADMIN
    ).json()
    page.goto(login["login_url"])
    item = page.locator(f".queue-item[data-ticket='{opened['ticket_id']}']")
    expect(item).to_be_visible()
    assert_accessible(page, "the expert's queue")
    item.click()
    page.click("button.claim")
    expect(page.locator(".reply textarea")).to_be_visible()
    expect(page.locator(".similar")).not_to_contain_text("加载中")
    assert_accessible(page, "a ticket open in the expert console")


def test_every_admin_tab(live, page):
    answered_ticket(live.url)  # a candidate case to publish
    opened_ticket(live.url)  # an unanswered ticket
    page.goto(f"{live.url}/admin")
    expect(page.locator("#login")).to_be_visible()
    assert_accessible(page, "the admin login")
    admin_login(page, live.url, "sites")
    for tab, loaded in ADMIN_TABS.items():
        page.click(f"[data-tab={tab}]")
        expect(page.locator(loaded).first).to_be_visible()
        assert_accessible(page, f"the admin tab {tab}")


def test_the_needs_form_of_a_station(live, page):
    page.goto(f"{live.url}/n/st-tongshan")
    page.click("#submit-need")  # refused: the error shown and the field marked
    expect(page.locator("#form-error")).to_be_visible()
    assert_accessible(page, "a station's needs-list form")


def test_the_roster_forms(live, page):
    admin_login(page, live.url, "experts")
    expect(page.locator("#experts tr[data-expert]").first).to_be_visible()
    page.locator("#experts button.edit").first.click()
    expect(page.locator("form.roster-form [data-field='skills'] textarea")).not_to_have_value("")
    assert_accessible(page, "an expert's form")
    page.click("[data-tab=sites]")
    page.click("#add-site")
    form = page.locator("form.roster-form[data-kind='sites']")
    form.locator("button[type=submit]").click()  # empty: the fields marked invalid
    expect(form.locator(".result")).to_contain_text("请填写")
    assert_accessible(page, "a new site's form with its errors")


def test_the_classes_page_with_a_sign_up_form(live, page):
    page.goto(f"{live.url}/classes?class=C01")
    card = page.locator("section.class-card[data-class=C01]")
    card.get_by_role("button", name="报名").click()
    card.get_by_role("button", name="提交报名").click()  # empty: the fields marked invalid
    expect(card.locator(".error")).to_contain_text("请填写")
    assert_accessible(page, "the classes page with a sign-up form")
