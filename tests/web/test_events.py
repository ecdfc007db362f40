"""The live-update streams (server-sent events) over real HTTP: uvicorn on 127.0.0.1 with the
demo knowledge on SQLite, read with httpx's streaming client as the pages read them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from bot.settings import RateLimitSettings
from tests.utils.auth import ADMIN
from tests.utils.live_server import LiveServer, demo_server
from tests.utils.wait import eventually

SITE = "xcmg-hv-3"
PROBLEM = "注塑机开模的时候模具有异响，咔咔的响，是顶针板卡了吗"
ANSWER = "先检查顶针板导柱润滑，再查顶出行程和复位弹簧。"
MAX_STREAMS = 3
KEEPALIVE = 0.3  # seconds: short, so the keep-alive test is quick
SOON = 1.0  # the answer reaches an open stream within this (the re-read is a minute away)


@pytest.fixture(scope="module")
def server(encoder, demo_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Demo knowledge; few streams allowed, a short keep-alive, one request in flight at a time
    (streams must not hold that turn), and a re-read slower than any wait below."""
    with demo_server(
        encoder,
        demo_index_dir,
        tmp_path_factory.mktemp("events"),
        rate_limit=RateLimitSettings(ask_per_minute=100_000, tickets_per_minute=100_000),
        max_in_flight_requests=1,
        max_event_streams=MAX_STREAMS,
        event_keepalive_seconds=KEEPALIVE,
        event_recheck_seconds=60,
    ) as server:
        yield server


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client
    # every stream of the test ended on the server too: nothing left subscribed
    feed = server.context.ticket_feed
    assert feed is not None
    await eventually(lambda: _true(feed.streams == 0), 5, "the streams to close on the server")


async def _true(value: bool) -> bool:
    return value


class Events:
    """The events of one open stream: ``(name, data)``, a comment as ``(":", text)``."""

    def __init__(self, response: httpx.Response):
        self.response = response
        self.lines = response.aiter_lines()

    async def next(self, timeout: float = 10) -> tuple[str, Any]:
        async def block() -> tuple[str, Any]:
            name, data = "", ""
            async for line in self.lines:
                if line == "":
                    if name or data:
                        return name, json.loads(data) if data else None
                    continue
                field, _, value = line.partition(":")
                if field == "":
                    return ":", value.strip()
                if field == "event":
                    name = value.strip()
                elif field == "data":
                    data += value.strip()
            raise EOFError("the stream ended")

        return await asyncio.wait_for(block(), timeout)

    async def next_event(self, timeout: float = 10) -> tuple[str, Any]:
        """The next event, keep-alives skipped."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            name, data = await self.next(max(0.01, deadline - asyncio.get_running_loop().time()))
            if name != ":":
                return name, data


@asynccontextmanager
async def opened_stream(http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> AsyncIterator[Events]:
    async with http.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Events(response)


async def open_ticket(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.post("/api/tickets", json={"text": PROBLEM, "site": SITE})
    response.raise_for_status()
    opened: dict[str, Any] = response.json()
    return opened


async def expert_auth(http: httpx.AsyncClient, expert_id: str) -> dict[str, str]:
    response = await http.post(f"/api/admin/experts/{expert_id}/token", headers=ADMIN)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def test_the_workers_stream_brings_the_answer_at_once(http: httpx.AsyncClient):
    ticket = await open_ticket(http)
    tid, worker = ticket["ticket_id"], {"X-Ticket-Token": ticket["token"]}
    expert = await expert_auth(http, ticket["expert"]["expert_id"])
    async with opened_stream(http, f"/api/tickets/{tid}/events", worker) as events:
        name, first = await events.next_event()
        assert name == "ticket" and first == (await http.get(f"/api/tickets/{tid}", headers=worker)).json()
        assert not first["has_answer"]
        answered = await http.post(f"/api/expert/tickets/{tid}/answer", headers=expert, json={"text": ANSWER})
        answered.raise_for_status()
        name, now = await events.next_event(SOON)
        assert name == "ticket" and now["has_answer"] and now["stage"] == "answered"
        assert [m["text"] for m in now["messages"] if m["author"] == "expert"] == [ANSWER]
        assert now == (await http.get(f"/api/tickets/{tid}", headers=worker)).json()


async def test_the_experts_stream_hears_a_new_ticket(http: httpx.AsyncClient):
    earlier = await open_ticket(http)
    expert_id = earlier["expert"]["expert_id"]
    expert = await expert_auth(http, expert_id)
    async with opened_stream(http, "/api/expert/events", expert) as events:
        name, first = await events.next_event()
        assert name == "queue" and earlier["ticket_id"] in first["tickets"]
        routed = await open_ticket(http)
        if (
            routed["expert"] is None or routed["expert"]["expert_id"] != expert_id
        ):  # routed elsewhere: handed over
            assigned = await http.post(
                f"/api/admin/tickets/{routed['ticket_id']}/assign",
                headers=ADMIN,
                json={"expert_id": expert_id},
            )
            assigned.raise_for_status()
        name, then = await events.next_event(SOON)
        assert name == "queue" and then["tickets"] == [routed["ticket_id"]]


async def test_an_experts_stream_ends_when_the_login_is_revoked(http: httpx.AsyncClient):
    expert_id = (await open_ticket(http))["expert"]["expert_id"]
    first_login = await expert_auth(http, expert_id)
    async with opened_stream(http, "/api/expert/events", first_login) as events:
        assert (await events.next_event())[0] == "queue"
        assert await events.next() == (":", "keep-alive")  # signed in: the stream goes on
        await expert_auth(http, expert_id)  # a new login link revokes the first at once
        ended = False
        for _ in range(10):  # it ends within a keep-alive interval or two, not after ten
            try:
                await events.next(timeout=5 * KEEPALIVE)
            except EOFError:
                ended = True
                break
        assert ended
    assert (await http.get("/api/expert/tickets", headers=first_login)).status_code == 401


async def test_the_caller_is_checked_before_the_stream_starts(http: httpx.AsyncClient):
    ticket = await open_ticket(http)
    refused = [
        (f"/api/tickets/{ticket['ticket_id']}/events", {"X-Ticket-Token": "wrong"}, 404),
        ("/api/tickets/nope/events", {"X-Ticket-Token": ticket["token"]}, 404),
        ("/api/expert/events", {}, 401),
        ("/api/expert/events", {"Authorization": "Bearer wrong"}, 401),
        ("/api/expert/events", ADMIN, 403),
    ]
    for path, headers, status in refused:
        async with http.stream("GET", path, headers=headers) as response:
            assert response.status_code == status, path
            assert response.headers["content-type"] == "application/json"
            assert "detail" in json.loads(await response.aread())


async def test_keepalive_cap_and_no_turn_taken(server: LiveServer, http: httpx.AsyncClient):
    ticket = await open_ticket(http)
    path, worker = f"/api/tickets/{ticket['ticket_id']}/events", {"X-Ticket-Token": ticket["token"]}
    async with opened_stream(http, path, worker) as one:
        assert (await one.next())[0] == "ticket"
        assert await one.next() == (":", "keep-alive")  # nothing changed for a while
        async with opened_stream(http, path, worker), opened_stream(http, path, worker) as third:
            await third.next_event()
            refused = await http.get(path, headers=worker)
            assert refused.status_code == 503 and int(refused.headers["retry-after"]) > 0
            # the open streams hold no turn: with one request in flight allowed, calls still pass
            assert (await http.get(path.removesuffix("/events"), headers=worker)).status_code == 200
    feed = server.context.ticket_feed
    assert feed is not None
    await eventually(lambda: _true(feed.streams == 0), 5, "the streams to close on the server")
    async with opened_stream(http, path, worker) as again:  # room again once they closed
        assert (await again.next())[0] == "ticket"


@pytest.mark.slow
def test_the_chat_page_shows_an_answer_from_its_stream(server: LiveServer, phone):
    """The answer reaches the worker's page within 3 s with polling all but off (every 10
    minutes), with no GET of the ticket at all; the tab title says so while the page is hidden."""
    opened = httpx.post(f"{server.url}/api/tickets", json={"text": PROBLEM, "site": SITE}).json()
    tid = opened["ticket_id"]
    expert = httpx.post(
        f"{server.url}/api/admin/experts/{opened['expert']['expert_id']}/token", headers=ADMIN
    )
    page = phone.new_page()
    page.add_init_script(  # the test decides whether the page is looked at
        "Object.defineProperty(document, 'visibilityState', {get: () => window.__seen || 'visible'})"
    )
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith(f"/api/tickets/{tid}") else None)
    page.goto(f"{server.url}/c/{SITE}?poll_ms=600000")
    page.evaluate(
        """([id, token]) => {
        const at = new Date().toISOString();
        const entry = {key: `ticket:${id}`, kind: "ticket", id, token, text: "问题", at};
        localStorage.setItem("craftdesk.history", JSON.stringify([entry]));
        localStorage.setItem("craftdesk.current", id);
    }""",
        [tid, opened["token"]],
    )
    page.reload()
    ticket = page.locator(f".ticket[data-ticket='{tid}']")
    expect(ticket.locator(".status")).to_have_text("等待师傅接单")  # the stream's first event
    title = page.title()
    page.evaluate("window.__seen = 'hidden'")

    httpx.post(
        f"{server.url}/api/expert/tickets/{tid}/answer",
        headers={"Authorization": f"Bearer {expert.json()['token']}"},
        json={"text": ANSWER},
    ).raise_for_status()
    expect(ticket.locator(".msg.expert .text")).to_have_text(ANSWER, timeout=3000)
    expect(ticket.locator(".status")).to_have_text("师傅已回复")
    expect(page).to_have_title(f"（新回复）{title}")
    page.evaluate("window.__seen = 'visible'; document.dispatchEvent(new Event('visibilitychange'))")
    expect(page).to_have_title(title)
    assert polls == []  # everything came through the stream
    page.close()
