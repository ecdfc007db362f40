"""What the worker keeps on the phone: every question asked (its case and verdict, or its ticket's
stage), and a photo sent with the first question, in real headless Chromium at phone size."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.test_browser import ask, expert_auth, png_bytes

pytestmark = pytest.mark.slow

SUGGESTED = "数控车床一开机就报SV0401，急停松开了复位也没用"  # the demo's K001, trusted
ROUTED = "车床开机报SV0417是怎么回事"  # no case for this alarm: a ticket for a master
PHOTO = {"name": "part.png", "mimeType": "image/png", "buffer": png_bytes()}


def kept(page) -> list[dict]:
    return page.evaluate("JSON.parse(localStorage.getItem('craftdesk.history') || '[]')")


def ticket_of(page, ticket_id: str) -> dict:
    [entry] = [e for e in kept(page) if e.get("id") == ticket_id]
    response = httpx.get(
        f"{page.url.split('/c/')[0]}/api/tickets/{ticket_id}", headers={"X-Ticket-Token": entry["token"]}
    )
    response.raise_for_status()
    return response.json()


def test_history_lists_suggested_and_routed_questions_after_a_reload(live, phone):
    page = phone.new_page()
    page.goto(f"{live.url}/c/xcmg-hv-3")
    ask(page, SUGGESTED)
    case = page.locator(".cases .case").first
    expect(case.locator("h3")).to_be_visible()
    title = case.locator("h3").inner_text()
    case.locator("button.solved").click()
    expect(page.locator(".cases .note").first).to_contain_text("问题已解决")

    ask(page, ROUTED)
    ticket = page.locator(".ticket").last
    expect(ticket.locator(".status")).to_have_text("等待师傅接单")
    ticket_id = ticket.get_attribute("data-ticket")
    assert ticket_id

    # an expert takes it meanwhile; the page is reopened without the ticket on screen: the
    # history reads the stage with the kept token
    opened = ticket_of(page, ticket_id)
    assert opened["expert"] is not None
    httpx.post(
        f"{live.url}/api/expert/tickets/{ticket_id}/claim",
        headers=expert_auth(live.url, opened["expert"]["expert_id"]),
    ).raise_for_status()
    page.evaluate("localStorage.removeItem('craftdesk.current')")
    page.reload()
    expect(page.locator(".ticket")).to_have_count(0)
    page.click("#history summary")
    items = page.locator("#history-list li")
    expect(items).to_have_count(2)
    newest, older = items.nth(0), items.nth(1)
    expect(newest).to_have_attribute("data-kind", "ticket")
    expect(newest.locator(".history-text")).to_have_text(ROUTED)
    expect(newest.locator(".status")).to_have_text("师傅处理中")
    expect(older).to_have_attribute("data-kind", "case")
    expect(older.locator(".history-text")).to_have_text(SUGGESTED)
    expect(older.locator(".history-case")).to_have_text(f"案例：{title}")
    expect(older.locator(".history-verdict")).to_have_text("解决了")

    # a suggested question shows its question and case again; a ticket opens as before
    older.locator("button").click()
    expect(page.locator(".bubble.me.replay .text")).to_have_text(SUGGESTED)
    replayed = page.locator(".cases .case")
    expect(replayed.locator("h3")).to_have_text(title)
    expect(replayed.locator("button.solved")).to_be_disabled()
    expect(page.locator(".cases .note")).to_contain_text("问题已解决")
    newest.locator("button").click()
    expect(page.locator(f".ticket[data-ticket='{ticket_id}'] .status")).to_have_text("师傅处理中")


def test_a_photo_sent_with_the_first_question_lands_on_its_ticket(live, phone):
    page = phone.new_page()
    page.goto(f"{live.url}/c/xcmg-hv-3")
    thumb = page.locator("#attachment img")
    page.locator("#ask-photo").set_input_files(PHOTO)
    expect(thumb).to_have_attribute("src", re.compile(r"^blob:"))
    page.click("#attachment-remove")  # changed my mind
    expect(page.locator("#attachment")).to_be_hidden()
    page.locator("#ask-photo").set_input_files(PHOTO)
    expect(page.locator("#attachment")).to_be_visible()

    ask(page, ROUTED)
    expect(page.locator(".bubble.me img.photo")).to_have_attribute("src", re.compile(r"^blob:"))
    expect(page.locator("#attachment")).to_be_hidden()
    ticket = page.locator(".ticket").last
    expect(ticket.locator(".msg.worker img.photo")).to_have_attribute("src", re.compile(r"^blob:"))
    ticket_id = ticket.get_attribute("data-ticket")
    assert ticket_id
    assert [m for m in ticket_of(page, ticket_id)["messages"] if m["author"] == "worker" and m["photo_url"]]


def test_a_photo_with_a_suggested_question_goes_to_the_ticket_of_not_solved(live, phone):
    page = phone.new_page()
    page.goto(f"{live.url}/c/xcmg-hv-3")
    page.locator("#ask-photo").set_input_files(PHOTO)
    ask(page, SUGGESTED)
    case = page.locator(".cases .case").first
    expect(case.locator("h3")).to_be_visible()
    expect(page.locator(".bubble.pending-photo")).to_contain_text("没解决，找师傅")
    assert page.locator(".ticket").count() == 0  # nothing sent while the case may do

    case.locator("button.not-solved").click()
    ticket = page.locator(".ticket")
    expect(ticket.locator(".msg.worker img.photo")).to_have_attribute("src", re.compile(r"^blob:"))
    ticket_id = ticket.get_attribute("data-ticket")
    assert ticket_id
    photos = [m for m in ticket_of(page, ticket_id)["messages"] if m["photo_url"]]
    assert len(photos) == 1 and photos[0]["author"] == "worker"

    page.reload()  # one question in the history: the case, 没解决, and its ticket
    page.click("#history summary")
    item = page.locator("#history-list li")
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-kind", "ticket")
    expect(item.locator(".history-verdict")).to_have_text("没解决")
    expect(item.locator(".status")).to_have_text("等待师傅接单")
