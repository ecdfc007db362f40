"""Three app instances on one PostgreSQL and one Redis, nginx in front (deploy/nginx), all real
processes on 127.0.0.1, the bot in webhook mode against the Bot API emulator (its updates posted
through nginx): phone-like load through nginx, the instance holding the sweep lease killed with
SIGKILL mid-run, then the database and the emulator read directly.

Checked: the other instances keep answering (nginx passes idempotent calls on; only POSTs in
flight on the killed instance fail); every acknowledged ticket is stored with an owner; one
client spread over the three instances gets its 429 at the configured limit (Redis); the silence
sweep moves on to another instance and moves each silent ticket once; every Telegram
notification reaches the emulator once (the one the killed instance may have sent without
recording it excepted); an expert answers in Telegram, the answer is published as a case
through one instance and suggested by another within 10 s (index versions in PostgreSQL); a
photo sent through one instance is shown by another (photos in PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import secrets
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot import texts
from bot.settings import Settings
from knowledge.states import EventKind
from retrieval.evaluation import load_queries
from scripts.loadtest import TICKET_PROBLEMS, Database, Phase, Worker, verify
from tests.conftest import MODEL_CACHE, REPO
from tests.factories import png_bytes
from tests.integration.cluster import UPSTREAM_HEADER, Cluster, Instance, WebhookBot, nginx_binary
from tests.telegram.bot_api_emulator import Emulator, Person, buttons
from tests.utils.index_versions import store_index_version
from tests.utils.postgres import create_database
from tests.utils.wait import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

ASK_LIMIT = 30  # questions per client and minute: the limit checked across the instances
LIFTED = "1000000"
SETTINGS = {
    "CRAFTDESK_TICKETS__SILENCE_MINUTES": "0.05",  # an unclaimed ticket moves on after 3 s
    "CRAFTDESK_TICKETS__SWEEP_SECONDS": "1",  # the lease lasts 3 sweeps: 3 s
    "CRAFTDESK_RATE_LIMIT__ASK_PER_MINUTE": str(ASK_LIMIT),
    # all clients come from 127.0.0.1: only the per-client question budget stays
    "CRAFTDESK_RATE_LIMIT__TICKETS_PER_MINUTE": LIFTED,
    "CRAFTDESK_RATE_LIMIT__MESSAGES_PER_MINUTE": LIFTED,
    "CRAFTDESK_RATE_LIMIT__ASK_PER_ADDRESS_PER_MINUTE": LIFTED,
    "CRAFTDESK_RATE_LIMIT__TICKETS_PER_ADDRESS_PER_MINUTE": LIFTED,
    "CRAFTDESK_RATE_LIMIT__MESSAGES_PER_ADDRESS_PER_MINUTE": LIFTED,
    "CRAFTDESK_RATE_LIMIT__ASK_PER_SITE_PER_MINUTE": LIFTED,
}
SETTINGS["CRAFTDESK_OUTBOX_CLAIM_SECONDS"] = "5"  # the killed instance's claims lapse within the test
CLIENTS = 8
LOAD_SECONDS = 20.0
KILL_AT = 8.0
THINK_MS = 600  # a client then asks ~10 times in the run, well under ASK_LIMIT
GETS = {"ticket read"}  # the idempotent calls of a worker's loop; the others are POSTs


@pytest.fixture(scope="session")
def nginx_installed() -> None:
    """Asked for first: without nginx nothing else is started."""
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (apt-get install nginx; `make system-deps` does it)")


@pytest.fixture
async def cluster(
    nginx_installed: None,
    postgres_base_url: str,
    redis_url: str,
    telegram_emulator: Emulator,
    demo_index_dir: Path,
    tmp_path: Path,
):
    """The demo index stored beforehand (as an earlier instance would have): the instances
    fetch it from PostgreSQL (tests/service/test_index_store.py has the first one building it)."""
    database_url = await create_database(postgres_base_url, f"t_{uuid.uuid4().hex[:12]}")
    await store_index_version(
        Settings(env="test", data_dir=tmp_path / "setup", database_url=database_url), demo_index_dir
    )
    bot = WebhookBot(telegram_emulator.base_url, f"{random.randint(10**8, 10**9)}:cluster")
    servers = Cluster(tmp_path, 3, database_url, redis_url, MODEL_CACHE, SETTINGS, bot=bot)
    try:
        await asyncio.to_thread(servers.start)
        yield servers, bot
    finally:
        servers.stop()


async def sweep_holder(db: Database) -> str | None:
    rows = await db.rows("SELECT holder FROM leases WHERE name = 'sweep'")
    return rows[0][0] if rows else None


def check_rate_limit_across_instances(servers: Cluster) -> None:
    """One client's questions, spread by nginx over the three instances, share one budget."""
    answered: list[tuple[int, str]] = []
    with httpx.Client(
        base_url=servers.url, timeout=30, headers={"X-Client-Id": secrets.token_hex(8)}
    ) as http:
        for _ in range(ASK_LIMIT + 5):
            reply = http.post("/api/ask", json={"text": "变频器加速的时候报Err05"})
            answered.append((reply.status_code, reply.headers.get(UPSTREAM_HEADER, "")))
    statuses = [status for status, _ in answered]
    assert statuses == [200] * ASK_LIMIT + [429] * 5
    instances = {servers.instance_at(upstream) for status, upstream in answered if status == 200}
    assert instances == set(servers.instances), "the questions were not spread over all instances"


async def run_load(servers: Cluster, db: Database) -> tuple[Phase, float, datetime, str]:
    """CLIENTS workers through nginx for LOAD_SECONDS; the sweep's holder killed at KILL_AT.
    Returns the phase, the kill's monotonic and wall-clock times and the killed instance."""
    texts = [q.text for q in load_queries(REPO / "knowledge" / "eval" / "queries.jsonl")]
    site_lines = (REPO / "knowledge" / "demo" / "sites.jsonl").read_text(encoding="utf-8").splitlines()
    sites: list[str | None] = [json.loads(line)["code"] for line in site_lines if line.strip()] + [None]
    phase = Phase("through nginx", CLIENTS, LOAD_SECONDS)
    phase.started = time.monotonic()
    deadline = phase.started + LOAD_SECONDS
    rng = random.Random(16)
    sessions = [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1),
            timeout=aiohttp.ClientTimeout(total=30),
            headers={"X-Client-Id": secrets.token_hex(8)},
        )
        for _ in range(CLIENTS)
    ]
    try:
        workers = [
            asyncio.create_task(
                Worker(
                    servers.url, http, phase, deadline, texts, sites, THINK_MS, random.Random(rng.random())
                ).run()
            )
            for http in sessions
        ]
        await asyncio.sleep(KILL_AT)
        holder = await sweep_holder(db)
        assert holder is not None, "no instance took the sweep lease"
        killed_at, killed_wall = time.monotonic(), datetime.now(UTC)
        servers.by_name(holder).kill()
        done, pending = await asyncio.wait(workers, timeout=LOAD_SECONDS + 10)
        assert not pending, "clients still running 10 s after the deadline"
        for task in done:
            task.result()
        phase.elapsed = time.monotonic() - phase.started
    finally:
        for http in sessions:
            await http.close()
    return phase, killed_at, killed_wall, holder


def notification_patterns() -> dict[str, re.Pattern[str]]:
    """The Telegram notifications to an expert the test counts, by outbox kind: each template of
    bot/texts.py with its ticket reference captured."""

    def pattern(template: str) -> re.Pattern[str]:
        escaped = re.escape(template).replace(re.escape("{ref}"), "(#[0-9a-zA-Z_-]{8})")
        return re.compile(re.sub(r"\\\{[a-z]+\\\}", ".*", escaped), re.DOTALL)

    new_ticket = pattern(texts.TG_EXPERT_TICKET)
    return {
        EventKind.ASSIGNED: new_ticket,
        EventKind.OFFERED: new_ticket,
        EventKind.MESSAGE: pattern(texts.TG_EXPERT_FOLLOWUP),
        EventKind.REASSIGNED: pattern(texts.TG_EXPERT_REASSIGNED),
    }


PATTERNS = notification_patterns()
KINDS = {EventKind.ASSIGNED: "new", EventKind.OFFERED: "new", EventKind.MESSAGE: "message"}
KINDS[EventKind.REASSIGNED] = "reassigned"


async def bind_experts(servers: Cluster, bot: WebhookBot, user_side: httpx.AsyncClient) -> dict[str, Person]:
    """Every expert binds a Telegram account with a link from the admin API; each /start goes
    from the emulator through nginx to one of the instances."""
    async with httpx.AsyncClient(base_url=servers.url, headers=admin(servers), timeout=30) as http:
        experts = [e["expert_id"] for e in (await http.get("/api/admin/experts")).json() if e["active"]]
        links = [
            (await http.post(f"/api/admin/experts/{expert_id}/telegram-link")).json()["link"]
            for expert_id in experts
        ]
    people = {expert_id: Person(user_side, bot.token, 870_001 + n) for n, expert_id in enumerate(experts)}

    async def bind(person: Person, link: str) -> None:
        await person.command(f"/start {link.split('start=')[1]}")
        await person.receive_text("绑定成功")

    await asyncio.gather(*(bind(people[e], link) for e, link in zip(experts, links, strict=True)))
    return people


def admin(servers: Cluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {servers.admin_token}"}


async def expert_notifications(
    user_side: httpx.AsyncClient, bot: WebhookBot, experts: dict[str, Person]
) -> Counter[tuple[str, str, str]]:
    """(expert, kind, ticket reference) of every notification the emulator got for an expert."""
    expert_of = {person.id: expert_id for expert_id, person in experts.items()}
    history = (await user_side.post("/getUpdatesHistory", json={"token": bot.token})).json()["result"]
    seen: Counter[tuple[str, str, str]] = Counter()
    for item in history:
        message = item["message"]
        expert_id = expert_of.get(int(message.get("chat_id") or 0))
        if expert_id is None:  # a message to someone else (the history holds only the bot's in webhook mode)
            continue
        for kind, pattern in PATTERNS.items():
            if match := pattern.match(message.get("text") or ""):  # a proposal may follow
                seen[(expert_id, KINDS[kind], match.group(1))] += 1
                break
    return seen


async def recorded_notifications(db: Database) -> tuple[Counter[tuple[str, str, str]], dict[int, tuple]]:
    """What the outbox recorded as sent to Telegram, as ``expert_notifications`` counts it, and
    each such event's key by id."""
    rows = await db.rows(
        "SELECT o.id, o.recipient, o.kind, o.ticket_id FROM outbox o "
        "JOIN telegram_deliveries d ON d.event_id = o.id WHERE o.recipient LIKE 'expert:%'"
    )
    keys = {
        event_id: (recipient.removeprefix("expert:"), KINDS[EventKind(kind)], f"#{ticket_id[:8]}")
        for event_id, recipient, kind, ticket_id in rows
        if kind in KINDS
    }
    return Counter(keys.values()), keys


async def stop_moving_tickets(database_url: str) -> None:
    """Stop the world: every ticket closed behind the app's back, so the sweep moves nothing
    more and the outbox runs dry."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE tickets SET status = 'closed' WHERE status <> 'closed'"))
    finally:
        await engine.dispose()


async def outbox_dry(db: Database) -> bool:
    rows = await db.rows("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL")
    return rows[0][0] == 0


PUBLISHED = {
    "title": "注塑机开模异响（顶针板导柱缺润滑）",
    "question": "注塑机开模时模具咔咔异响，顶针板动作发卡",
    "answer": "检查顶针板导柱润滑，查顶出行程和复位弹簧，导柱磨损则更换。",
}
ASKED_AGAIN = "注塑机开模咔咔响 顶针板发卡咋办"


async def answered_in_telegram(servers: Cluster, db: Database, experts: dict[str, Person]) -> tuple[str, str]:
    """A web worker's ticket, claimed and answered by its expert in Telegram (button and reply
    go through nginx to the instances); the ticket's id and the worker's token."""
    async with httpx.AsyncClient(
        base_url=servers.url, timeout=30, headers={"X-Client-Id": secrets.token_hex(8)}
    ) as http:
        asked = (
            await http.post("/api/ask", json={"text": PUBLISHED["question"], "site": "xcmg-hv-3"})
        ).json()
        ticket = asked.get("ticket")
        if ticket is None:  # a case was suggested: the worker says it did not help
            feedback = f"/api/questions/{asked['question_id']}/feedback"
            ticket = (await http.post(feedback, json={"solved": False})).json()["ticket"]
    ticket_id = ticket["ticket_id"]
    ref = f"#{ticket_id[:8]}"
    for _ in range(3):  # the silence sweep may move it on before the claim: then its next expert
        [(expert_id,)] = await db.rows("SELECT expert_id FROM tickets WHERE id = :t", t=ticket_id)
        assert expert_id is not None, "the ticket was offered to a team, not given to an expert"
        person = experts[expert_id]
        card = await person.receive(lambda m: ref in (m.get("text") or "") and bool(m.get("reply_markup")))
        await person.press(card, buttons(card)[0]["callback_data"])  # 认领
        if await claimed_by(db, ticket_id, expert_id):
            break
    else:
        raise AssertionError("no expert could claim the ticket")
    await person.send(PUBLISHED["answer"], reply_to=card)
    await person.receive_text(texts.TG_EXPERT_ANSWER_SENT)
    return ticket_id, ticket["token"]


async def photo_shown_by_another(ticket_id: str, token: str, a: Instance, b: Instance) -> None:
    """A photo the worker sends through ``a`` is shown by ``b`` (no shared disk: PostgreSQL)."""
    worker = {"X-Ticket-Token": token}
    async with httpx.AsyncClient(timeout=30, headers=worker) as http:
        photo = {"photo": ("fault.png", png_bytes((12, 9)), "image/png")}
        sent = await http.post(f"{a.url}/api/tickets/{ticket_id}/photos", files=photo)
        assert sent.status_code == 201, sent.text
        on_a = await http.get(a.url + sent.json()["photo_url"])
        on_b = await http.get(b.url + sent.json()["photo_url"])
    assert on_b.status_code == 200 and on_b.content == on_a.content and on_b.content.startswith(b"\x89PNG")


async def claimed_by(db: Database, ticket_id: str, expert_id: str) -> bool:
    """Wait until the ticket is claimed, or moved on to another expert; whether ``expert_id`` holds it."""

    async def settled() -> tuple[str, bool] | None:
        [(holder, claimed_at)] = await db.rows(
            "SELECT expert_id, claimed_at FROM tickets WHERE id = :t", t=ticket_id
        )
        return (holder, claimed_at is not None) if claimed_at is not None or holder != expert_id else None

    return await eventually(settled, 10, "the claim taking effect") == (expert_id, True)


async def seconds_until_suggested(servers: Cluster, ticket_id: str, a: Instance, b: Instance) -> float:
    """Publish the ticket's answer through instance ``a``; seconds until ``b`` suggests it."""
    async with httpx.AsyncClient(timeout=30) as http:
        published = await http.post(
            f"{a.url}/api/admin/candidates/{ticket_id}/publish", headers=admin(servers), json=PUBLISHED
        )
        assert published.status_code == 201, published.text
        case_id, started = published.json()["case_id"], time.monotonic()
        while True:
            asked = await http.post(
                f"{b.url}/api/ask",
                json={"text": ASKED_AGAIN},
                headers={"X-Client-Id": secrets.token_hex(8)},  # a new client each time: no 429
            )
            suggestions = asked.json()["suggestions"]
            if suggestions and suggestions[0]["case_id"] == case_id:
                return time.monotonic() - started
            assert time.monotonic() - started < 10, f"{b.name} does not suggest {case_id} 10 s after"
            await asyncio.sleep(0.2)


async def test_three_instances_behind_nginx_survive_a_kill(cluster: tuple[Cluster, WebhookBot]):
    servers, bot = cluster
    db = Database(None, servers.database_url)
    try:
        check_rate_limit_across_instances(servers)
        async with httpx.AsyncClient(base_url=bot.api_base, timeout=30) as user_side:
            experts = await bind_experts(servers, bot, user_side)
            phase, killed_at, killed_wall, killed = await run_load(servers, db)
            in_flight = {
                row[0]
                for row in await db.rows(
                    "SELECT id FROM outbox WHERE claimed_by = :k AND delivered_at IS NULL", k=killed
                )
            }

            # the others kept answering: GETs were passed on, only POSTs in flight at the kill failed
            failed = [c for c in phase.calls if c.status is None or c.status >= 500]
            assert [c for c in failed if c.name in GETS] == []
            assert len(failed) <= CLIENTS and all(c.started < killed_at + 1 for c in failed), Counter(
                (c.name, c.status, c.error) for c in failed
            )
            assert [c for c in phase.calls if c.status is not None and 400 <= c.status < 500] == []
            after = [
                c for c in phase.calls if c.name == "ask" and c.status == 200 and c.started > killed_at + 1
            ]
            assert len(after) >= CLIENTS, "too few questions answered after the kill"
            assert "Connection refused" in servers.nginx.error_log(), "nginx never tried the dead instance"

            # every acknowledged ticket is stored, with its token, an owner and a notification
            checked = await verify(db, phase.acks, sqlite=False)
            assert checked["acknowledged"] > 0
            assert {p: checked["found"][p] for p in ("lost", *TICKET_PROBLEMS)} == dict.fromkeys(
                ("lost", *TICKET_PROBLEMS), 0
            )
            assert checked["duplicates"] == 0

            # the sweep moved on to a surviving instance, which moves silent tickets
            async def moved_after_kill() -> bool:
                holder = await sweep_holder(db)
                rows = await db.rows(
                    "SELECT COUNT(*) FROM outbox WHERE kind = 'reassigned' AND created_at > :t", t=killed_wall
                )
                return holder not in (None, killed) and rows[0][0] > 0

            await eventually(moved_after_kill, 20, "no silent ticket moved after the sweep's holder died")

            # each silence moved its ticket once: no expert was passed over twice on a ticket
            twice = await db.rows(
                "SELECT ticket_id, recipient, COUNT(*) FROM outbox WHERE kind = 'reassigned' "
                "GROUP BY ticket_id, recipient HAVING COUNT(*) > 1"
            )
            assert twice == []

            # an expert answers in Telegram; published through one survivor, suggested by the other
            a, b = [i for i in servers.instances if i.name != killed]
            ticket_id, token = await answered_in_telegram(servers, db, experts)
            assert await seconds_until_suggested(servers, ticket_id, a, b) < 10
            await photo_shown_by_another(ticket_id, token, a, b)

            # every Telegram notification reached the emulator once: the world stopped, the
            # outbox run dry (the killed instance's claims lapsed and were sent by the others)
            await stop_moving_tickets(servers.database_url)
            await eventually(lambda: outbox_dry(db), 30, "the outbox running dry after the tickets stopped")
            recorded, keys = await recorded_notifications(db)
            received = await expert_notifications(user_side, bot, experts)
            assert sum(recorded.values()) > CLIENTS
            missing = recorded - received
            assert missing == Counter(), f"recorded as sent, never received: {missing}"
            # a kill between a send and its record sends that one event again: at most the one
            # the killed instance was sending
            surplus = received - recorded
            assert sum(surplus.values()) <= 1 and set(surplus) <= {keys.get(e) for e in in_flight}, surplus
        assert servers.error_lines() == []
    finally:
        await db.close()
