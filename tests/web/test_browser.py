"""The pages in real headless Chromium against the live app: worker, expert and admin together."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.utils.demo import DEMO_SITES
from tests.web.conftest import ADMIN_TOKEN, DESKTOP

pytestmark = pytest.mark.slow

NEW_PROBLEM = "注塑机开模的时候模具有异响，咔咔的响，是顶针板卡了吗"
ANSWER = "先检查顶针板导柱润滑，再查顶出行程和复位弹簧。"
CASE_TITLE = "注塑机开模异响（顶针板导柱缺润滑）"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def ask(page, text: str) -> None:
    page.fill("#question", text)
    page.click("#ask-button")


def follow(page, url: str, opened: dict, text: str, site: str = "xcmg-hv-3") -> None:
    """Open the site's chat with a ticket opened through the API, as if asked on this phone."""
    page.goto(f"{url}/c/{site}")
    page.evaluate(
        """([id, token, text, site]) => {
        const entry = {id, token, text, site, at: new Date().toISOString()};
        localStorage.setItem("craftdesk.tickets", JSON.stringify([entry]));
        localStorage.setItem("craftdesk.current", id);
    }""",
        [opened["ticket_id"], opened["token"], text, site],
    )
    page.reload()


def expert_auth(url: str, expert_id: str) -> dict[str, str]:
    login = httpx.post(
        f"{url}/api/admin/experts/{expert_id}/token", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ).json()
    return {"Authorization": f"Bearer {login['token']}"}


def at_least_48px(locator) -> None:
    box = locator.bounding_box()
    assert box is not None and box["width"] >= 48 and box["height"] >= 48, box


def admin_login(page, url: str, tab: str) -> None:
    page.goto(f"{url}/admin#{tab}")
    page.fill("#admin-token", ADMIN_TOKEN)
    page.click("#login button[type=submit]")
    expect(page.locator(f"#tab-{tab}")).to_be_visible()


def test_worker_expert_admin_round_trip(live, browser, phone, desktop):
    worker = phone.new_page()
    worker.goto(f"{live.url}/c/xcmg-hv-3")
    expect(worker.locator("#site-name")).to_have_text("徐工重型 三号车间")

    # a known problem: its case as a card (trusted, or sent to an expert to confirm), 解决了 recorded
    ask(worker, "变频器加速的时候报Err05")
    first = worker.locator(".cases .case").first
    expect(first.locator("h3")).to_have_text("汇川MD500变频器报Err05加速过电压")
    first.locator("button.solved").click()
    expect(worker.locator(".cases .note").first).to_contain_text("问题已解决")

    # a new problem: routed, a ticket with the expert's name, and no case shown (none is
    # near enough to stand behind)
    cases_before = worker.locator(".cases .case").count()
    ask(worker, NEW_PROBLEM)
    ticket = worker.locator(".ticket").last  # the first question may have a ticket too (confirm)
    expect(ticket.locator(".expert-name")).not_to_be_empty()
    expect(ticket.locator(".status")).to_have_text("等待师傅接单")  # assigned, no expert has taken it yet
    expect(ticket.locator(".rate")).to_be_hidden()  # nothing to rate before an answer
    expect(worker.locator(".cases .case")).to_have_count(cases_before)
    ticket_id = ticket.get_attribute("data-ticket")
    expert_name = ticket.locator(".expert-name").inner_text()

    # the admin issues the expert's login link
    admin = desktop.new_page()
    admin_login(admin, live.url, "experts")
    row = admin.locator("#experts tr", has=admin.locator(f"strong:text-is('{expert_name}')"))
    admin.once("dialog", lambda dialog: dialog.accept())  # asked when an earlier test issued one
    row.locator("button.issue").click()
    login_url = row.locator("input.login-link").input_value()
    assert login_url.startswith(f"{live.url}/expert#token=")

    # the expert logs in by the link, sees the ticket and similar cases, claims and answers
    expert_context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    expert = expert_context.new_page()
    expert.goto(login_url)
    expect(expert.locator(f".queue-item[data-ticket='{ticket_id}']")).to_be_visible()
    assert "token" not in expert.url
    expert.click(f".queue-item[data-ticket='{ticket_id}']")
    expect(expert.locator(".question")).to_have_text(NEW_PROBLEM)
    # similar cases above the confirm floor, or the note that there are none (a new problem,
    # unless another test published its case already)
    expect(expert.locator(".similar .case, .similar p.muted").first).to_be_visible()
    expect(expert.locator(".similar")).not_to_contain_text("加载中")
    expert.click("button.claim")
    expect(expert.locator(".detail-main .status")).to_have_text("已认领")
    expect(ticket.locator(".status")).to_have_text("师傅处理中")
    expert.fill(".reply textarea", ANSWER)
    expert.click("button.send-answer")
    expect(expert.locator(".msg.expert .text")).to_have_text(ANSWER)

    # the worker's page shows the answer without a reload
    expect(ticket.locator(".msg.expert .text")).to_have_text(ANSWER, timeout=20_000)
    expect(ticket.locator(".status")).to_have_text("师傅已回复")

    # a photo goes up and comes back through a token-guarded fetch
    ticket.locator("input[type=file]").set_input_files(
        {"name": "part.png", "mimeType": "image/png", "buffer": png_bytes()}
    )
    photo = ticket.locator(".msg.worker img.photo")
    expect(photo).to_have_attribute("src", re.compile(r"^blob:"))
    assert photo.evaluate("img => img.decode().then(() => img.naturalWidth)") == 64
    expect(expert.locator(".msg.worker img.photo")).to_have_attribute(
        "src", re.compile(r"^blob:"), timeout=20_000
    )

    # the ticket survives a reload; the earlier question is listed; rate and close
    worker.reload()
    ticket = worker.locator(f".ticket[data-ticket='{ticket_id}']")
    expect(ticket.locator(".msg.expert .text")).to_have_text(ANSWER)
    expect(worker.locator("#history-list")).to_contain_text(NEW_PROBLEM)
    ticket.locator(".star").nth(4).click()
    ticket.locator("button.close-ticket").click()
    expect(ticket.locator(".note")).to_have_text("本次提问已结束，感谢您的评价！")
    expect(ticket.locator(".given-rating")).to_have_text("您的评分：★★★★★")
    expect(ticket.locator(".status")).to_have_text("已结束")

    # the admin publishes the answer as a case; a new question finds it
    admin.goto(f"{live.url}/admin#candidates")
    candidate = admin.locator(f".candidate[data-ticket='{ticket_id}']")
    candidate.locator("input").fill(CASE_TITLE)
    candidate.locator("button.publish").click()
    expect(candidate.locator(".note")).to_contain_text("已发布为案例 T")
    ask(worker, "注塑机开模咔咔响 顶针板发卡咋办")
    expect(worker.locator(".case h3", has_text=CASE_TITLE).first).to_be_visible()
    expert_context.close()


def test_typed_markup_stays_text_everywhere(live, browser, phone):
    hostile = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">液压站 压力上不去'
    worker = phone.new_page()
    worker.goto(f"{live.url}/c/xcmg-hv-3")
    ask(worker, hostile)
    expect(worker.locator(".bubble.me .text").last).to_have_text(hostile)
    expect(worker.locator(".bubble.bot").last).not_to_have_class(re.compile("pending"))

    # an answer and a site name carrying markup, shown to the worker and to the expert
    opened = httpx.post(f"{live.url}/api/tickets", json={"text": hostile, "site": "xcmg-hv-3"}).json()
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    expert_id = opened["expert"]["expert_id"]
    login = httpx.post(f"{live.url}/api/admin/experts/{expert_id}/token", headers=admin).json()
    httpx.post(
        f"{live.url}/api/expert/tickets/{opened['ticket_id']}/answer",
        json={"text": hostile},
        headers={"Authorization": f"Bearer {login['token']}"},
    ).raise_for_status()
    worker.evaluate(
        """([id, token, text]) => {
        const entry = {id, token, text, site: "xcmg-hv-3", at: new Date().toISOString()};
        localStorage.setItem("craftdesk.tickets", JSON.stringify([entry]));
        localStorage.setItem("craftdesk.current", id);
    }""",
        [opened["ticket_id"], opened["token"], hostile],
    )
    worker.reload()
    expect(worker.locator(".ticket .msg.expert .text")).to_have_text(hostile)
    expect(worker.locator("#history-list")).to_contain_text(hostile)

    expert = browser.new_context(viewport=DESKTOP).new_page()
    expert.goto(login["login_url"])
    expert.click(f".queue-item[data-ticket='{opened['ticket_id']}']")
    expect(expert.locator(".question")).to_have_text(hostile)
    for page in (worker, expert):
        assert page.evaluate("window.__xss") is None
        assert page.locator("main img[src='x'], main script").count() == 0
    expert.context.close()


def test_unknown_site_is_a_friendly_page(live, phone):
    page = phone.new_page()
    response = page.goto(f"{live.url}/c/no-such-site")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("没有找到这个二维码对应的车间")


def test_admin_sites_stats_and_reindex(live, desktop):
    httpx.post(f"{live.url}/api/ask", json={"text": NEW_PROBLEM, "site": "xcmg-hv-3"}).raise_for_status()
    page = desktop.new_page()
    admin_login(page, live.url, "sites")
    expect(page.locator("#sites tr")).to_have_count(DEMO_SITES)
    page.fill("#bot-name", "craftdesk_bot")
    with page.expect_download() as sheet:
        page.click("#sheet-pdf")
    assert sheet.value.suggested_filename == "qr-sheet.pdf"
    assert sheet.value.path().read_bytes().startswith(b"%PDF-")
    with page.expect_download() as png:
        page.locator("#sites tr").first.locator("button", has_text="PNG").click()
    assert png.value.path().read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    page.click("[data-tab=stats]")
    expect(page.locator("#totals .tile")).to_have_count(7)
    expect(page.locator("#charts figure.chart")).to_have_count(6)
    assert page.locator("#charts svg rect").count() >= 2

    page.click("[data-tab=index]")
    page.click("#reindex")
    expect(page.locator("#reindex-state")).to_contain_text("已完成", timeout=120_000)
    expect(page.locator("#reindex-bar")).to_have_attribute("style", "width: 100%;")

    bad = desktop.new_page()  # its own sessionStorage: not logged in
    bad.goto(f"{live.url}/admin")
    bad.fill("#admin-token", "wrong")
    bad.click("#login button[type=submit]")
    expect(bad.locator("#login-error")).to_have_text("管理员令牌无效。")


def test_reject_shows_where_to_ask_and_expert_can_decline(live, browser, phone):
    worker = phone.new_page()
    worker.goto(f"{live.url}/c/xcmg-hv-3")
    ask(worker, "这个月工资什么时候发？年假怎么请？")
    expect(worker.locator(".bubble.bot").last).to_contain_text("12351")
    assert worker.locator(".ticket, .cases").count() == 0

    opened = httpx.post(f"{live.url}/api/tickets", json={"text": NEW_PROBLEM}).json()
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    login = httpx.post(
        f"{live.url}/api/admin/experts/{opened['expert']['expert_id']}/token", headers=admin
    ).json()
    expert = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
    expert.goto(login["login_url"])
    expert.click(f".queue-item[data-ticket='{opened['ticket_id']}']")
    expert.click("button.decline")
    expect(expert.locator(".notes .note")).to_have_text("已转给其他师傅。")
    expect(expert.locator(f".queue-item[data-ticket='{opened['ticket_id']}']")).to_have_count(0)
    expert.context.close()


def test_the_question_box_counts_grows_and_keeps_a_failed_question(live, phone):
    page = phone.new_page()
    page.goto(f"{live.url}/c/xk-qishan-belt")  # a coal mine: its example, not a lathe alarm
    placeholder = page.locator("#question").get_attribute("placeholder") or ""
    assert placeholder.startswith("例如：") and "SV0401" not in placeholder
    counter = page.locator("#question-count")
    expect(counter).to_have_text("0/2000")
    page.fill("#question", NEW_PROBLEM)
    expect(counter).to_have_text(f"{len(NEW_PROBLEM)}/2000")
    short = page.locator("#question").bounding_box()
    page.fill("#question", "\n".join([NEW_PROBLEM] * 5))
    tall = page.locator("#question").bounding_box()
    assert short is not None and tall is not None and tall["height"] > short["height"] + 20
    page.fill("#question", "液" * 2001)
    expect(counter).to_have_text("2001/2000")
    expect(counter).to_have_class(re.compile("over"))
    page.click("#ask-button")  # nothing cut: refused with the reason, the text stays
    expect(page.locator(".bubble.error").last).to_contain_text("2000 字以内")
    assert len(page.locator("#question").input_value()) == 2001

    # offline: the send fails, the question stays in the box and in the draft, a retry sends it
    page.route("**/api/ask", lambda route: route.abort())
    page.fill("#question", NEW_PROBLEM)
    page.click("#ask-button")
    retry = page.locator(".bubble.error button.retry")
    expect(retry).to_be_visible()
    expect(page.locator("#question")).to_have_value(NEW_PROBLEM)
    assert page.evaluate("localStorage.getItem('craftdesk.draft.xk-qishan-belt')") == NEW_PROBLEM
    assert page.locator(".bubble.me").count() == 0
    page.reload()  # the draft survives a reload too
    expect(page.locator("#question")).to_have_value(NEW_PROBLEM)
    expect(counter).to_have_text(f"{len(NEW_PROBLEM)}/2000")
    page.click("#ask-button")
    expect(retry).to_be_visible()
    page.unroute("**/api/ask")
    retry.click()
    expect(page.locator(".bubble.me .text")).to_have_text(NEW_PROBLEM)
    expect(page.locator(".bubble.bot").last).not_to_have_class(re.compile("pending|error"))
    expect(page.locator("#question")).to_have_value("")
    assert page.evaluate("localStorage.getItem('craftdesk.draft.xk-qishan-belt')") is None
    expect(page.locator(".bubble.error button.retry")).to_have_count(0)


def test_the_ticket_shows_who_has_it_and_rating_waits_for_an_answer(live, phone):
    # one ticket answered first, so the desk has a typical wait to tell
    earlier = httpx.post(f"{live.url}/api/tickets", json={"text": NEW_PROBLEM, "site": "xcmg-hv-3"}).json()
    experts: dict[str, dict[str, str]] = {}

    def auth(expert_id: str) -> dict[str, str]:
        if expert_id not in experts:
            experts[expert_id] = expert_auth(live.url, expert_id)
        return experts[expert_id]

    httpx.post(
        f"{live.url}/api/expert/tickets/{earlier['ticket_id']}/answer",
        json={"text": ANSWER},
        headers=auth(earlier["expert"]["expert_id"]),
    ).raise_for_status()

    opened = httpx.post(f"{live.url}/api/tickets", json={"text": NEW_PROBLEM, "site": "xcmg-hv-3"}).json()
    page = phone.new_page()
    follow(page, live.url, opened, NEW_PROBLEM)
    ticket = page.locator(".ticket")
    expect(ticket.locator(".status")).to_have_text("等待师傅接单")
    expect(ticket.locator(".stage-note")).to_contain_text("还没有师傅接单")
    expect(ticket.locator(".stage-note")).to_contain_text(re.compile(r"通常 \d+ 分钟内回复"))
    expect(ticket.locator(".leave-note")).to_contain_text("我的提问记录")
    expect(ticket.locator(".rate")).to_be_hidden()
    expect(ticket.locator(".star").first).to_be_hidden()
    expect(ticket.locator("button.withdraw")).to_be_visible()

    expert = auth(opened["expert"]["expert_id"])
    base = f"{live.url}/api/expert/tickets/{opened['ticket_id']}"
    httpx.post(f"{base}/claim", headers=expert).raise_for_status()
    expect(ticket.locator(".status")).to_have_text("师傅处理中")
    expect(ticket.locator(".stage-note")).to_have_text(f"{opened['expert']['name']} 师傅已接单，正在处理。")
    expect(ticket.locator(".rate")).to_be_hidden()

    httpx.post(f"{base}/answer", headers=expert, json={"text": ANSWER}).raise_for_status()
    expect(ticket.locator(".status")).to_have_text("师傅已回复")
    expect(ticket.locator(".rate")).to_be_visible()
    expect(ticket.locator("button.withdraw")).to_be_hidden()
    expect(ticket.locator(".leave-note")).to_be_hidden()
    for star in ticket.locator(".star").all():  # gloved fingers
        at_least_48px(star)
    page.evaluate("document.getElementById('thread').append(cd.longText('液压'.repeat(100)))")
    at_least_48px(page.locator("button.more").last)

    # a question nobody has answered can be withdrawn (two taps), without a rating
    unanswered = httpx.post(f"{live.url}/api/tickets", json={"text": NEW_PROBLEM, "site": "xcmg-hv-3"}).json()
    follow(page, live.url, unanswered, NEW_PROBLEM)
    withdraw = page.locator(".ticket button.withdraw")
    withdraw.click()
    expect(withdraw).to_have_text("再点一次，确认撤回")
    withdraw.click()
    expect(page.locator(".ticket .note")).to_have_text("您已撤回这个问题。")
    expect(page.locator(".ticket .status")).to_have_text("已结束")
    expect(page.locator(".ticket .given-rating")).to_be_hidden()
