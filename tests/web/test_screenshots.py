"""Screenshots of the three pages at phone and desktop size, taken from the live app.

Always taken (a blank or broken page fails the test); copied into ``$SCREENSHOTS_DIR`` when
that is set, which is what ``python scripts/screenshots.py --out docs/screenshots`` does.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageStat
from playwright.sync_api import expect

from knowledge.db import make_engine, make_sessionmaker
from knowledge.models import Question, Ticket, utcnow
from tests.utils.demo import DEMO_SITES
from tests.web.conftest import ADMIN_TOKEN, DESKTOP, PHONE

pytestmark = pytest.mark.slow

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SITES = ["xcmg-hv-3", "xcmg-exc-asm", "xk-qishan-belt"]
QUESTION = "注塑机合模到位以后顶针板回不去，模具咔咔响，是不是复位杆卡住了"
ANSWER = "先检查顶针板导柱润滑，再查顶出行程和复位弹簧。导柱磨损的话直接换新，别硬撑。"


async def seed_history(db_url: str, weeks: int = 6) -> None:
    """Past weeks of questions and closed tickets, so the statistics have something to draw."""
    engine = make_engine(db_url)
    now = utcnow()
    try:
        async with make_sessionmaker(engine)() as session:
            for week in range(1, weeks + 1):
                for n in range(3 + (week * 5) % 7):
                    asked = now - timedelta(weeks=week, hours=n * 7)
                    site = SITES[(week + n) % len(SITES)]
                    routed = n % 3 == 0
                    qid = uuid.uuid4().hex
                    session.add(
                        Question(
                            id=qid,
                            text=f"历史问题 {week}-{n}",
                            site_code=site,
                            channel="web",
                            asked_at=asked,
                            decision="route" if routed else "suggest",
                            solved=None if routed else n % 2 == 1,
                            expert_ids=["E01"],
                        )
                    )
                    if routed:
                        session.add(
                            Ticket(
                                id=uuid.uuid4().hex,
                                token_hash="0" * 64,
                                question_id=qid,
                                text=f"历史问题 {week}-{n}",
                                site_code=site,
                                channel="web",
                                status="closed",
                                expert_id="E01",
                                tier="ranked",
                                created_at=asked,
                                first_answer_at=asked + timedelta(minutes=12 + 9 * week + n),
                                closed_at=asked + timedelta(hours=5),
                                rating=4 + n % 2,
                                published_case_id="K001",
                            )
                        )
            await session.commit()
    finally:
        await engine.dispose()


def shoot(page, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    with Image.open(path) as image:
        assert image.size == (page.viewport_size["width"], page.viewport_size["height"])
        assert max(ImageStat.Stat(image.convert("L")).stddev) > 20, f"{name} looks blank"
    return path


def test_screenshots(live, browser, tmp_path: Path):
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        pool.submit(asyncio.run, seed_history(live.context.settings.db_url)).result()
    shots: list[Path] = []

    # the worker: a suggestion, then a ticket the expert has answered
    worker = browser.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=1).new_page()
    worker.goto(f"{live.url}/c/xcmg-hv-3")
    worker.fill("#question", "变频器加速的时候报Err05")
    worker.click("#ask-button")
    expect(worker.locator(".cases .case").first).to_be_visible()
    shots.append(shoot(worker, tmp_path, "chat-phone"))
    answers = worker.locator(".bubble.bot:not(.pending)")
    replies_before = answers.count()
    worker.fill("#question", QUESTION)
    worker.click("#ask-button")
    expect(answers).to_have_count(replies_before + 1)  # answered (the first question may hold a ticket too)
    stored = (
        "JSON.parse(localStorage.getItem('craftdesk.history') || '[]')"
        f".find(t => t.text === {QUESTION!r} && t.id && t.token)"
    )
    if not worker.evaluate(f"Boolean({stored})"):  # a case published by another test was suggested: 没解决
        worker.locator(".cases").last.locator("button.not-solved").first.click()
    for _ in range(100):  # polled from here: the page's CSP forbids wait_for_function's eval
        if entry := worker.evaluate(stored):
            break
        worker.wait_for_timeout(100)
    assert entry, "the question's ticket was never stored"
    ticket_id = entry["id"]
    ticket = worker.locator(f".ticket[data-ticket='{ticket_id}']")
    expect(ticket.locator(".expert-name")).not_to_be_empty()
    seen = httpx.get(f"{live.url}/api/tickets/{ticket_id}", headers={"X-Ticket-Token": entry["token"]}).json()
    login = httpx.post(
        f"{live.url}/api/admin/experts/{seen['expert']['expert_id']}/token", headers=ADMIN
    ).json()
    expert_auth = {"Authorization": f"Bearer {login['token']}"}
    httpx.post(
        f"{live.url}/api/expert/tickets/{ticket_id}/answer", json={"text": ANSWER}, headers=expert_auth
    ).raise_for_status()
    expect(ticket.locator(".msg.expert .text")).to_have_text(ANSWER, timeout=20_000)
    ticket.scroll_into_view_if_needed()
    shots.append(shoot(worker, tmp_path, "chat-ticket-phone"))

    desktop_worker = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
    desktop_worker.goto(f"{live.url}/c/xcmg-hv-3")
    desktop_worker.fill("#question", "变频器加速的时候报Err05")
    desktop_worker.click("#ask-button")
    expect(desktop_worker.locator(".cases .case").first).to_be_visible()
    desktop_worker.evaluate("window.scrollTo(0, 0)")
    shots.append(shoot(desktop_worker, tmp_path, "chat-desktop"))

    # the expert: a ticket open, with the similar past cases beside it
    ticket.locator(".reply textarea").fill("导柱看了，有点发干，上油后好多了，复位弹簧要换吗？")
    ticket.locator(".reply button[type=submit]").click()
    for viewport, name in ((DESKTOP, "expert-desktop"), (PHONE, "expert-phone")):
        page = browser.new_context(viewport=viewport, locale="zh-CN").new_page()
        page.goto(login["login_url"])
        page.click(f".queue-item[data-ticket='{ticket_id}']")
        expect(page.locator(".similar .case, .similar p.muted").first).to_be_visible()
        expect(page.locator(".similar")).not_to_contain_text("加载中")
        expect(page.locator(".msg.worker").last).to_contain_text("复位弹簧")
        shots.append(shoot(page, tmp_path, name))

    # the admin: the statistics
    for viewport, name in ((DESKTOP, "admin-desktop"), (PHONE, "admin-phone")):
        page = browser.new_context(viewport=viewport, locale="zh-CN").new_page()
        page.goto(f"{live.url}/admin#stats")
        page.fill("#admin-token", ADMIN_TOKEN)
        page.click("#login button[type=submit]")
        expect(page.locator("#charts figure.chart")).to_have_count(6)
        shots.append(shoot(page, tmp_path, name))
    page.click("[data-tab=sites]")  # the last one, phone-sized
    expect(page.locator("#sites tr")).to_have_count(DEMO_SITES)
    shots.append(shoot(page, tmp_path, "admin-sites-phone"))
    page.click("[data-tab=experts]")
    page.locator("#experts button.edit").first.click()
    expect(page.locator("form.roster-form [data-field='skills'] textarea")).not_to_have_value("")
    shots.append(shoot(page, tmp_path, "admin-expert-form-phone"))
    page.set_viewport_size(DESKTOP)
    page.click("[data-tab=candidates]")
    expect(page.locator(f".candidate[data-ticket='{ticket_id}']")).to_be_visible()
    shots.append(shoot(page, tmp_path, "admin-candidates-desktop"))

    if target := os.environ.get("SCREENSHOTS_DIR"):
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copy(shot, Path(target) / shot.name)
