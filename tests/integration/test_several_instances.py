"""Three app instances on one PostgreSQL and one Redis, nginx in front (deploy/nginx), all real
processes on 127.0.0.1: phone-like load through nginx, the instance holding the sweep lease
killed with SIGKILL mid-run, then the database read directly.

Checked: the other instances keep answering (nginx passes idempotent calls on; only POSTs in
flight on the killed instance fail); every acknowledged ticket is stored with an owner; one
client spread over the three instances gets its 429 at the configured limit (Redis); the silence
sweep moves on to another instance and moves each silent ticket once.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
import pytest

from retrieval.evaluation import load_queries
from scripts.loadtest import TICKET_PROBLEMS, Database, Phase, Worker, verify
from tests.conftest import MODEL_CACHE, REPO
from tests.integration.cluster import UPSTREAM_HEADER, Cluster, nginx_binary
from tests.utils.postgres import create_database

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
    nginx_installed: None, postgres_base_url: str, redis_url: str, demo_index_dir: Path, tmp_path: Path
):
    """``demo_index_dir``: the demo indexed once per run (the model converted into the shared
    cache with it), copied to the instances (cluster.seed_index)."""
    database_url = await create_database(postgres_base_url, f"t_{uuid.uuid4().hex[:12]}")
    servers = Cluster(tmp_path, 3, database_url, redis_url, MODEL_CACHE, SETTINGS, index=demo_index_dir)
    try:
        await asyncio.to_thread(servers.start)
        yield servers
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


async def test_three_instances_behind_nginx_survive_a_kill(cluster: Cluster):
    servers = cluster
    db = Database(None, servers.database_url)
    try:
        check_rate_limit_across_instances(servers)
        phase, killed_at, killed_wall, killed = await run_load(servers, db)

        # the others kept answering: GETs were passed on, only POSTs in flight at the kill failed
        failed = [c for c in phase.calls if c.status is None or c.status >= 500]
        assert [c for c in failed if c.name in GETS] == []
        assert len(failed) <= CLIENTS and all(c.started < killed_at + 1 for c in failed), Counter(
            (c.name, c.status, c.error) for c in failed
        )
        assert [c for c in phase.calls if c.status is not None and 400 <= c.status < 500] == []
        after = [c for c in phase.calls if c.name == "ask" and c.status == 200 and c.started > killed_at + 1]
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

        deadline = time.monotonic() + 20
        while not await moved_after_kill():
            assert time.monotonic() < deadline, "no silent ticket moved after the sweep's holder died"
            await asyncio.sleep(0.2)

        # each silence moved its ticket once: no expert was passed over twice on a ticket
        twice = await db.rows(
            "SELECT ticket_id, recipient, COUNT(*) FROM outbox WHERE kind = 'reassigned' "
            "GROUP BY ticket_id, recipient HAVING COUNT(*) > 1"
        )
        assert twice == []
        assert servers.error_lines() == []
    finally:
        await db.close()


@pytest.mark.skip(reason="needs the index store (part 3)")
def test_webhook_notifications_and_publishing_reach_every_instance():
    """TODO (issue 16, the lead): the bot in webhook mode against the Bot API emulator
    (tests/telegram/) behind nginx's /telegram/webhook; every notification arrives at the
    emulator exactly once across the kill; a case published through instance A is suggested by
    instance B within 10 s (CRAFTDESK_INDEX_STORE=database: cluster.index_environment)."""
