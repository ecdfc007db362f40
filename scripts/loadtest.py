"""Load and fault test: phone-like workers against the real HTTP API, a server kill, then the
database read directly to see that nothing acknowledged was lost.

Example:
    python scripts/loadtest.py --clients 12 --seconds 30
    python scripts/loadtest.py --clients 200 --seconds 300 --kill-at 120 --compare-clients 8 \\
        --out docs/loadtest-latest.md
    python scripts/loadtest.py --clients 60 --seconds 60 \\
        --database-url postgresql+asyncpg://craftdesk@127.0.0.1:5432/loadtest

Starts `python -m bot` on a free 127.0.0.1 port with a scratch data dir (demo knowledge, rate
limits lifted), measures the bare encoder in this process first (single-query encodes on every
core: the ceiling of /api/ask here), then drives the clients, each one keep-alive connection,
through a worker's loop: ask -> `suggest`: feedback solved or not (not solved opens a ticket);
`route`/`confirm`: the ticket of the answer (or POST /api/tickets); `reject`: done -> read the
ticket back with its token, sometimes write a message. With --kill-at the server gets SIGKILL
and is restarted on the same port and data; requests failing while it is down are counted
apart. Afterwards the database is read directly: every acknowledged ticket is stored with its
token hash, an owner, the worker's message and a notification; one ticket per question; no
notification stuck; SQLite `PRAGMA quick_check`.
Exit code 0 when every check passes, 1 otherwise (one line per failed check on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import json
import os
import random
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bot.context import make_encoder
from bot.logs import setup_logging
from bot.runtime import load_settings
from bot.service.outbox import OutboxDispatcher
from bot.settings import RateLimitSettings
from knowledge.states import Decision, Tier
from retrieval.encoder import model_slug
from retrieval.evaluation import load_queries

REPO = Path(__file__).resolve().parent.parent

CALLS = ("ask", "feedback", "ticket open", "ticket read", "message")
SLOW_MS = 5000
WINDOW_S = 10
DRAIN_S = 5.0  # after the deadline, requests in flight get this long before they are cut
TICKET_PROBLEMS = ("token hash missing", "without owner", "without worker message", "without outbox row")
FOLLOW_UPS = (
    "补充一下：设备型号在铭牌上看不清，我拍张照片发上来",
    "刚才又报了一次，复位后能跑一会儿",
    "现场急用，麻烦师傅尽快看看",
    "已经按说明查过接线，没发现松动",
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python scripts/loadtest.py --clients 200 --seconds 300 --kill-at 120 "
        "--compare-clients 8 --out /tmp/loadtest.md",
    )
    parser.add_argument("--clients", type=int, default=200, help="concurrent workers (default 200)")
    parser.add_argument("--seconds", type=float, default=300, help="length of the main phase (default 300)")
    parser.add_argument("--think-ms", type=float, default=0, help="pause between a worker's calls")
    parser.add_argument("--timeout", type=float, default=30, help="per-request timeout in s (default 30)")
    parser.add_argument(
        "--kill-at",
        type=float,
        metavar="SECONDS",
        help="SIGKILL the server this long into the main phase, then restart it",
    )
    parser.add_argument(
        "--compare-clients",
        type=int,
        metavar="N",
        help="run a short phase with N clients first and compare the throughputs",
    )
    parser.add_argument("--compare-seconds", type=float, default=30, help="length of that phase (default 30)")
    parser.add_argument(
        "--encoder-seconds", type=float, default=5, help="how long the bare encoder is measured (default 5)"
    )
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=15,
        help="after the load, wait up to this long for the outbox to drain",
    )
    parser.add_argument("--allow-slow", action="store_true", help="requests over 5 s do not fail the run")
    parser.add_argument(
        "--database-url",
        help="run on this database (e.g. postgresql+asyncpg://...); default: SQLite in the scratch data dir",
    )
    parser.add_argument(
        "--model-cache",
        type=Path,
        help="converted models (default: an existing "
        "CRAFTDESK_MODEL_CACHE, CRAFTDESK_TEST_MODEL_CACHE or .cache/test-models)",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="keep the server's data here (default: a temporary dir)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the workers")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    if args.clients < 1 or args.seconds <= 0 or args.timeout <= 0:
        parser.error("--clients, --seconds and --timeout must be positive")
    if args.kill_at is not None and not 0 < args.kill_at < args.seconds:
        parser.error("--kill-at must lie inside the main phase (0 < SECONDS < --seconds)")
    if args.compare_clients is not None and (args.compare_clients < 1 or args.compare_seconds <= 0):
        parser.error("--compare-clients and --compare-seconds must be positive")
    return args


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# ---- what the clients record ---------------------------------------------------------------


@dataclass(slots=True)
class Call:
    name: str
    started: float  # time.monotonic()
    ended: float
    status: int | None  # None: no answer (see error)
    error: str | None = None  # timeout / connection / cut at deadline / ...

    @property
    def ms(self) -> float:
        return (self.ended - self.started) * 1000


@dataclass(frozen=True)
class Ack:
    """A ticket the server acknowledged (a 200/201 answer with its id and token)."""

    ticket_id: str
    token: str
    question_id: str
    source: str  # ask / feedback / open


@dataclass
class Outage:
    killed: float
    back: float | None = None  # healthy again; None: never

    def overlaps(self, start: float, end: float) -> bool:
        return start <= (self.back if self.back is not None else float("inf")) and end >= self.killed


@dataclass
class Phase:
    name: str
    clients: int
    seconds: float
    started: float = 0.0
    elapsed: float = 0.0
    calls: list[Call] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    decisions: Counter = field(default_factory=Counter)
    outages: list[Outage] = field(default_factory=list)
    readback_wrong: int = 0
    client_bugs: Counter = field(default_factory=Counter)

    def outage_of(self, call: Call) -> Outage | None:
        return next((o for o in self.outages if o.overlaps(call.started, call.ended)), None)

    def in_outage(self, call: Call) -> bool:
        return self.outage_of(call) is not None

    def asks_answered(self) -> int:
        return sum(1 for c in self.calls if c.name == "ask" and c.status == 200)

    def down_seconds(self) -> float:
        end = self.started + self.elapsed
        return sum(min(o.back or end, end) - o.killed for o in self.outages)


class NoAnswer(Exception):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class Deadline(Exception):
    pass


class ServerError(Exception):
    pass


class Worker:
    """One phone: one keep-alive connection, one question after another."""

    def __init__(
        self,
        url: str,
        http: aiohttp.ClientSession,
        phase: Phase,
        deadline: float,
        texts: list[str],
        sites: list[str | None],
        think_ms: float,
        rng: random.Random,
    ):
        self.url, self.http, self.phase, self.deadline = url, http, phase, deadline
        self.texts, self.sites, self.think_ms, self.rng = texts, sites, think_ms, rng

    async def run(self) -> None:
        while time.monotonic() < self.deadline:
            try:
                await self.flow()
            except Deadline:
                return
            except NoAnswer as exc:
                if exc.kind != "timeout":  # the server may be down: do not spin on refusals
                    await asyncio.sleep(0.2 + self.rng.random() * 0.3)
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:  # a malformed answer
                self.phase.client_bugs[f"{type(exc).__name__}: {exc}"[:120]] += 1
            await self.think()

    async def think(self) -> None:
        if self.think_ms > 0:
            await asyncio.sleep(self.think_ms * (0.5 + self.rng.random()) / 1000)

    async def call(
        self, name: str, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        if time.monotonic() >= self.deadline:
            raise Deadline
        headers = {"X-Ticket-Token": token} if token else None
        started = time.monotonic()
        try:
            async with self.http.request(method, self.url + path, json=body, headers=headers) as response:
                raw = await response.read()
                status = response.status
        except asyncio.CancelledError:
            self.phase.calls.append(Call(name, started, time.monotonic(), None, "cut at deadline"))
            raise
        except (TimeoutError, aiohttp.ClientError) as exc:
            kind = (
                "timeout"
                if isinstance(exc, TimeoutError)
                else "connection"
                if isinstance(exc, aiohttp.ClientConnectionError)
                else type(exc).__name__
            )
            self.phase.calls.append(Call(name, started, time.monotonic(), None, kind))
            raise NoAnswer(kind) from None
        self.phase.calls.append(Call(name, started, time.monotonic(), status))
        data = json.loads(raw) if 200 <= status < 300 and raw else None
        return status, data

    def acknowledge(self, opened: Any, question_id: str, source: str) -> Ack | None:
        if isinstance(opened, dict) and opened.get("ticket_id") and opened.get("token"):
            ack = Ack(opened["ticket_id"], opened["token"], question_id, source)
            self.phase.acks.append(ack)
            return ack
        return None

    async def flow(self) -> None:
        text, site = self.rng.choice(self.texts), self.rng.choice(self.sites)
        status, asked = await self.call("ask", "POST", "/api/ask", {"text": text, "site": site})
        if status != 200:
            return
        decision, question_id = asked["decision"], asked["question_id"]
        self.phase.decisions[decision] += 1
        ticket = None
        if decision == Decision.SUGGEST:
            solved = self.rng.random() < 0.5
            case_id = asked["suggestions"][0]["case_id"] if solved and asked["suggestions"] else None
            await self.think()
            status, answer = await self.call(
                "feedback",
                "POST",
                f"/api/questions/{question_id}/feedback",
                {"solved": solved, "case_id": case_id},
            )
            if status == 200 and not solved:
                ticket = self.acknowledge(answer.get("ticket"), question_id, "feedback")
        elif decision in (Decision.ROUTE, Decision.CONFIRM):
            ticket = self.acknowledge(asked.get("ticket"), question_id, "ask")
            if ticket is None:  # a server from before the `ticket` field: open it explicitly
                await self.think()
                status, opened = await self.call(
                    "ticket open", "POST", "/api/tickets", {"question_id": question_id}
                )
                if status in (200, 201):
                    ticket = self.acknowledge(opened, question_id, "open")
        if ticket is None:
            return
        await self.think()
        status, read = await self.call(
            "ticket read", "GET", f"/api/tickets/{ticket.ticket_id}", token=ticket.token
        )
        if status == 200 and read.get("ticket_id") != ticket.ticket_id:
            self.phase.readback_wrong += 1
        if self.rng.random() < 0.5:
            await self.think()
            await self.call(
                "message",
                "POST",
                f"/api/tickets/{ticket.ticket_id}/messages",
                {"text": self.rng.choice(FOLLOW_UPS)},
                token=ticket.token,
            )


# ---- the server process --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`python -m bot` on 127.0.0.1; killed and restarted on the same port and data."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=REPO,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def wait_healthy(self, seconds: float = 300) -> None:
        deadline = time.monotonic() + seconds
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.monotonic() < deadline:
                if self.exited() is not None:
                    raise ServerError(f"the server exited with code {self.exited()}; see {self.log_path}")
                try:
                    async with http.get(f"{self.url}/healthz") as response:
                        if response.status == 200 and (await response.json())["status"] == "ok":
                            return
                except (TimeoutError, aiohttp.ClientError):
                    pass
                await asyncio.sleep(0.2)
        raise ServerError(f"the server did not become healthy in {seconds:.0f} s; see {self.log_path}")

    def exited(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)  # no-op when it already ended on its own
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def error_lines(self) -> list[str]:
        if not self.log_path.exists():
            return []
        return [
            line
            for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
            if " ERROR " in line or " CRITICAL " in line
        ]


def server_env(settings: Any, data_dir: Path, model_cache: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTDESK_")}
    env |= {
        "CRAFTDESK_DATA_DIR": str(data_dir),
        "CRAFTDESK_MODEL_CACHE": str(model_cache),
        "CRAFTDESK_EMBEDDING_MODEL": settings.embedding_model,
        "CRAFTDESK_EMBEDDING_BACKEND": settings.embedding_backend,
        "CRAFTDESK_ENCODER_THREADS": str(settings.encoder_threads),
        "CRAFTDESK_IMPORT_DEMO_WHEN_EMPTY": "true",
        "CRAFTDESK_LOG_LEVEL": "WARNING",
        "CRAFTDESK_ADMIN_TOKEN": secrets.token_urlsafe(32),
        # all the load comes from one address (and a few sites): lift the limits
        **RateLimitSettings.lifted_environment(),
    }
    if database_url:
        env["CRAFTDESK_DATABASE_URL"] = database_url
    return env


def find_model_cache(given: Path | None, model: str) -> Path:
    """The first folder holding the converted model; else the first one named (converted there
    once, by this process, before the server starts)."""
    candidates = (
        [given]
        if given
        else [
            Path(p)
            for p in (os.environ.get("CRAFTDESK_MODEL_CACHE"), os.environ.get("CRAFTDESK_TEST_MODEL_CACHE"))
            if p
        ]
        + [REPO / ".cache" / "test-models"]
    )
    for folder in candidates:
        if (folder / model_slug(model) / "onnx" / "craftdesk_conversion.json").is_file():
            return folder
    return candidates[0]


# ---- the bare encoder ------------------------------------------------------------------------


def bare_encoder_rate(settings: Any, texts: list[str], threads: int, seconds: float) -> tuple[float, int]:
    """Single-query encodes per second with ``threads`` threads on one encoder (as the server
    runs them: one encode per request, in worker threads)."""
    encoder = make_encoder(settings)
    for text in texts[:20]:
        encoder.encode([text])
    counts = [0] * threads
    barrier = threading.Barrier(threads + 1)

    def work(n: int) -> None:
        barrier.wait()
        end, done, i = time.perf_counter() + seconds, 0, n
        while time.perf_counter() < end:
            encoder.encode([texts[i % len(texts)]])
            done, i = done + 1, i + threads
        counts[n] = done

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - started), sum(counts)


# ---- driving a phase -------------------------------------------------------------------------


async def kill_and_restart(server: Server, phase: Phase, at: float) -> None:
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    killed = time.monotonic()
    server.kill()
    phase.outages.append(outage := Outage(killed))
    log(f"{phase.name}: SIGKILL sent to the server at {killed - phase.started:.1f} s; restarting it")
    server.start()
    try:
        await server.wait_healthy()
    except ServerError as exc:
        log(f"{phase.name}: {exc}")
        return
    outage.back = time.monotonic()
    log(f"{phase.name}: the server is back after {time.monotonic() - killed:.1f} s")


async def progress(phase: Phase, server: Server, restarting: asyncio.Task | None, db: Database) -> None:
    seen_asks, last = 0, time.monotonic()
    while True:
        await asyncio.sleep(WINDOW_S)
        now = time.monotonic()
        asks = phase.asks_answered()
        no_answer = sum(1 for c in phase.calls if c.status is None)
        errors_5xx = sum(1 for c in phase.calls if c.status is not None and c.status >= 500)
        backlog = await outbox_backlog(db)
        log(
            f"{phase.name} {now - phase.started:.0f} s: {len(phase.calls)} requests, "
            f"{(asks - seen_asks) / (now - last):.1f} asks/s now ({asks} answered), "
            f"{no_answer} without answer, {errors_5xx} 5xx, {len(phase.acks)} tickets, "
            f"outbox pending {backlog if backlog is not None else '?'}"
        )
        seen_asks, last = asks, now
        if server.exited() is not None and (restarting is None or restarting.done()):
            log(f"{phase.name}: the server exited on its own with code {server.exited()}")


async def run_phase(
    phase: Phase,
    server: Server,
    texts: list[str],
    sites: list[str | None],
    args: argparse.Namespace,
    kill_at: float | None,
    db: Database,
) -> None:
    log(f"{phase.name}: {phase.clients} clients for {phase.seconds:.0f} s")
    phase.started = time.monotonic()
    deadline = phase.started + phase.seconds
    rng = random.Random(f"{args.seed}-{phase.name}")
    sessions = [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1),  # one phone, one connection
            timeout=aiohttp.ClientTimeout(total=args.timeout),
            headers={"X-Client-Id": secrets.token_hex(8)},
        )  # as the web chat sends
        for _ in range(phase.clients)
    ]
    restarting = (
        asyncio.create_task(kill_and_restart(server, phase, phase.started + kill_at))
        if kill_at is not None
        else None
    )
    reporter = asyncio.create_task(progress(phase, server, restarting, db))
    try:
        tasks = [
            asyncio.create_task(
                Worker(
                    server.url,
                    http,
                    phase,
                    deadline,
                    texts,
                    sites,
                    args.think_ms,
                    random.Random(rng.random()),
                ).run()
            )
            for http in sessions
        ]
        _, pending = await asyncio.wait(tasks, timeout=deadline + DRAIN_S - time.monotonic())
        for task in pending:  # bounded: whatever still runs is cut (and counted)
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        phase.elapsed = time.monotonic() - phase.started
        if restarting is not None:
            await restarting  # the checks need the server back
    finally:
        reporter.cancel()
        for http in sessions:
            await http.close()


# ---- the database, read directly -------------------------------------------------------------


class Database:
    """Read-only queries with ``:name`` parameters: sqlite3 for SQLite, SQLAlchemy otherwise."""

    def __init__(self, sqlite_path: Path | None, url: str | None):
        self.sqlite_path, self.url = sqlite_path, url
        self.sqlite: sqlite3.Connection | None = None
        self.engine: Any = None

    async def rows(self, sql: str, **params: Any) -> list[tuple]:
        if self.sqlite_path is not None:
            if self.sqlite is None:  # opened once the server has created the file
                self.sqlite = sqlite3.connect(self.sqlite_path, timeout=30)
            return self.sqlite.execute(sql, params).fetchall()
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        assert self.url is not None, "a Database reads SQLite by path or another database by URL"
        self.engine = self.engine or create_async_engine(self.url)

        async with self.engine.connect() as conn:
            return [tuple(row) for row in (await conn.execute(text(sql), params)).all()]

    async def close(self) -> None:
        if self.sqlite is not None:
            self.sqlite.close()
        if self.engine is not None:
            await self.engine.dispose()


def max_attempts() -> int:
    return inspect.signature(OutboxDispatcher.__init__).parameters["max_attempts"].default


async def outbox_states(db: Database) -> Counter[str]:
    rows = await db.rows("SELECT delivered_at IS NOT NULL, attempts, dead_at IS NOT NULL FROM outbox")
    limit, states = max_attempts(), Counter[str]()
    for delivered, attempts, dead_lettered in rows:
        states[
            "delivered"
            if delivered
            else "dead-lettered"
            if dead_lettered
            else "pending"
            if (attempts or 0) < limit
            else "stuck"
        ] += 1
    return states


async def outbox_backlog(db: Database) -> int | None:
    """Notifications waiting for the dispatcher; None when the database cannot be read now."""
    try:
        return (await outbox_states(db))["pending"]
    except Exception:  # e.g. not created yet, or locked past the timeout: progress only
        return None


async def settle_outbox(db: Database, seconds: float) -> tuple[float, int | None]:
    """Wait (the server still running) until no notification waits; returns the time taken
    and how many waited when the load stopped."""
    started, at_start = time.monotonic(), await outbox_backlog(db)
    backlog = at_start
    while backlog and time.monotonic() - started < seconds:
        await asyncio.sleep(0.5)
        backlog = await outbox_backlog(db)
    return time.monotonic() - started, at_start


def _as_list(value: Any) -> list:
    if isinstance(value, str):
        return json.loads(value) if value else []
    return list(value or [])


async def verify(db: Database, acks: list[Ack], sqlite: bool) -> dict[str, Any]:
    """The first token of a ticket is stored on it, tokens re-issued to retries in ticket_tokens."""
    tickets = {
        row[0]: row
        for row in await db.rows(
            "SELECT id, token_hash, question_id, expert_id, offered_to, tier FROM tickets"
        )
    }
    stored_hashes = {(r[0], r[1]) for r in await db.rows("SELECT ticket_id, token_hash FROM ticket_tokens")}
    worker_messages = dict(
        await db.rows(
            "SELECT ticket_id, COUNT(*) FROM ticket_messages WHERE author = 'worker' GROUP BY ticket_id"
        )
    )
    outbox_rows = dict(await db.rows("SELECT ticket_id, COUNT(*) FROM outbox GROUP BY ticket_id"))
    found: Counter = Counter()
    tokens: dict[str, set[str]] = {}
    for ack in acks:
        tokens.setdefault(ack.ticket_id, set()).add(ack.token)
    for ticket_id, given in tokens.items():
        row = tickets.get(ticket_id)
        if row is None:
            found["lost"] += 1
            continue
        _, ticket_hash, _, expert_id, offered_to, tier = row
        problems = set()
        for token in given:
            digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
            if digest != ticket_hash and (ticket_id, digest) not in stored_hashes:
                problems.add("token hash missing")
        if not (expert_id or _as_list(offered_to) or tier == Tier.ADMIN):
            problems.add("without owner")
        if not worker_messages.get(ticket_id):
            problems.add("without worker message")
        if not outbox_rows.get(ticket_id):
            problems.add("without outbox row")
        found.update(problems)
        found["verified"] += not problems
    acked_per_question: dict[str, set[str]] = {}
    for ack in acks:
        acked_per_question.setdefault(ack.question_id, set()).add(ack.ticket_id)
    duplicates = await db.rows(
        "SELECT question_id, COUNT(*) FROM tickets WHERE question_id IS NOT NULL "
        "GROUP BY question_id HAVING COUNT(*) > 1"
    )
    return {
        "acknowledged": len(tokens),
        "found": found,
        "duplicates": len(duplicates),
        "acked_duplicates": sum(1 for ids in acked_per_question.values() if len(ids) > 1),
        "tickets_in_db": len(tickets),
        "outbox": await outbox_states(db),
        "quick_check": ", ".join(str(r[0]) for r in await db.rows("PRAGMA quick_check")) if sqlite else None,
    }


# ---- the report --------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> str:
    return f"{float(np.percentile(np.array(values), q)):.0f}" if values else "-"


def rate(phase: Phase) -> float:
    """/api/ask answers per second while the server was up."""
    up = phase.elapsed - phase.down_seconds()
    return phase.asks_answered() / up if up > 0 else 0.0


def slow(phase: Phase, call: Call) -> bool:
    """Longer than 5 s: an answer, a failure outside the outage, or a request that had already
    waited that long when the server was killed."""
    outage = phase.outage_of(call) if call.status is None else None
    return ((outage.killed if outage else call.ended) - call.started) * 1000 > SLOW_MS


def phase_report(phase: Phase, bare: float) -> list[str]:
    lines = [
        f"## {phase.name}: {phase.clients} clients × {phase.seconds:.0f} s",
        "",
        "| call | answers | p50 ms | p95 ms | p99 ms | max ms | > 5 s | no answer (outage) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in CALLS:
        calls = [c for c in phase.calls if c.name == name]
        answered = [c.ms for c in calls if c.status is not None]
        failed = [c for c in calls if c.status is None]
        lines.append(
            f"| {name} | {len(answered)} | {pct(answered, 50)} | {pct(answered, 95)} | "
            f"{pct(answered, 99)} | {max(answered, default=0):.0f} | "
            f"{sum(slow(phase, c) for c in calls)} | "
            f"{len(failed)} ({sum(phase.in_outage(c) for c in failed)}) |"
        )
    outcomes = sorted(
        {str(c.status) if c.status is not None else f"no answer: {c.error}" for c in phase.calls}
    )
    lines += ["", f"| answers | {' | '.join(CALLS)} | total |", "|---" * (len(CALLS) + 2) + "|"]
    for outcome in outcomes:
        counts = [
            sum(
                1
                for c in phase.calls
                if c.name == n
                and (str(c.status) if c.status is not None else f"no answer: {c.error}") == outcome
            )
            for n in CALLS
        ]
        lines.append(f"| {outcome} | {' | '.join(map(str, counts))} | {sum(counts)} |")
    sources = Counter(a.source for a in phase.acks)
    lines += [
        "",
        f"- decisions: {', '.join(f'{k} {v}' for k, v in sorted(phase.decisions.items())) or 'none'}",
        f"- tickets acknowledged: {len(phase.acks)} (from the ask answer {sources['ask']}, "
        f"feedback {sources['feedback']}, POST /api/tickets {sources['open']})",
        f"- /api/ask throughput: {phase.asks_answered() / phase.elapsed:.1f} answers/s overall, "
        f"{rate(phase):.1f} while the server was up; server / bare encoder: {rate(phase) / bare:.2f}",
    ]
    failed_in_outage = sum(1 for c in phase.calls if c.status is None and phase.in_outage(c))
    for o in phase.outages:
        lines.append(
            f"- outage: SIGKILL at {o.killed - phase.started:.1f} s, "
            + (
                f"healthy again at {o.back - phase.started:.1f} s ({o.back - o.killed:.1f} s down)"
                if o.back is not None
                else "never healthy again"
            )
            + f"; {failed_in_outage} requests failed during it"
        )
    lines += [
        "",
        "| window | ask answers/s | requests | no answer | 5xx | ask p95 ms |",
        "|---|---|---|---|---|---|",
    ]
    starts = list(range(0, int(np.ceil(phase.seconds / WINDOW_S)) * WINDOW_S, WINDOW_S))
    for start in starts:  # the last window also holds what ended while the phase drained
        end = start + WINDOW_S if start != starts[-1] else max(phase.elapsed, start + WINDOW_S)
        calls = [c for c in phase.calls if start <= c.ended - phase.started < end]
        asks = [c.ms for c in calls if c.name == "ask" and c.status == 200]
        width = min(end, phase.elapsed) - start
        down = any(o.overlaps(phase.started + start, phase.started + end) for o in phase.outages)
        lines.append(
            f"| {start}-{end:.0f} s{' (outage)' if down else ''} | {len(asks) / width:.1f} | "
            f"{len(calls)} | {sum(c.status is None for c in calls)} | "
            f"{sum(c.status is not None and c.status >= 500 for c in calls)} | {pct(asks, 95)} |"
        )
    return lines


def failed_checks(
    phases: list[Phase], db: dict[str, Any], died: int | None, args: argparse.Namespace, kill_restarted: bool
) -> list[str]:
    calls = [(p, c) for p in phases for c in p.calls]
    outside = [c for p, c in calls if not p.in_outage(c)]
    reasons = []
    if n := sum(1 for c in outside if c.status is not None and c.status >= 500):
        reasons.append(f"{n} 5xx answers outside the outage")
    no_answer = [c for c in outside if c.status is None and c.error != "cut at deadline"]  # cut: slow
    if no_answer:
        kinds = Counter(c.error for c in no_answer)
        reasons.append(
            f"{len(no_answer)} requests without an answer outside the outage "
            f"({', '.join(f'{k} {v}' for k, v in kinds.items())})"
        )
    unexpected = Counter(
        f"{c.name} {c.status}" for c in outside if c.status is not None and 400 <= c.status < 500
    )
    if unexpected:
        reasons.append(
            f"{sum(unexpected.values())} 4xx answers to valid requests "
            f"({', '.join(f'{k}: {v}' for k, v in unexpected.most_common(5))})"
        )
    if not args.allow_slow and (n := sum(slow(p, c) for p, c in calls)):
        reasons.append(f"{n} requests took longer than 5 s (--allow-slow accepts that)")
    if n := sum(p.readback_wrong for p in phases):
        reasons.append(f"{n} ticket read-backs answered with another ticket")
    if bugs := sum((p.client_bugs for p in phases), Counter()):
        reasons.append(f"{sum(bugs.values())} malformed answers, e.g. {next(iter(bugs))}")
    if args.kill_at is not None and not kill_restarted:
        reasons.append("the server did not come back after the kill")
    if died is not None:
        reasons.append(f"the server exited on its own (code {died}) during the run")
    found = db["found"]
    if db["acknowledged"] == 0:
        reasons.append("no ticket was acknowledged: nothing to verify")
    for problem in ("lost", *TICKET_PROBLEMS):
        if found[problem]:
            what = "lost (not in the database)" if problem == "lost" else problem
            reasons.append(f"{found[problem]} acknowledged tickets {what}")
    if db["duplicates"] or db["acked_duplicates"]:
        reasons.append(f"{max(db['duplicates'], db['acked_duplicates'])} questions with more than one ticket")
    if db["outbox"]["stuck"]:
        reasons.append(f"{db['outbox']['stuck']} outbox rows stuck (undelivered, attempts used up)")
    if db["quick_check"] is not None and db["quick_check"] != "ok":
        reasons.append(f"PRAGMA quick_check: {db['quick_check'][:200]}")
    return reasons


def db_report(db: dict[str, Any], settled: tuple[float, int | None]) -> list[str]:
    found, outbox = db["found"], db["outbox"]
    return [
        "## Database checks (read directly after the server stopped)",
        "",
        f"- tickets acknowledged: {db['acknowledged']}",
        f"- tickets verified: {found['verified']} (stored, its token's hash on it or in ticket_tokens, "
        "an owner, the worker's message, an outbox row)",
        f"- tickets lost: {found['lost']}",
        *(f"- acknowledged tickets {p}: {found[p]}" for p in TICKET_PROBLEMS),
        f"- questions with more than one ticket: {db['duplicates']} in the database, "
        f"{db['acked_duplicates']} among the acknowledged",
        f"- tickets in the database: {db['tickets_in_db']}",
        f"- outbox rows: delivered {outbox['delivered']}, pending {outbox['pending']} "
        f"(attempts below {max_attempts()}), dead-lettered {outbox['dead-lettered']}, "
        f"stuck {outbox['stuck']}; "
        f"({settled[1]} pending when the load stopped; waited {settled[0]:.1f} s for the dispatcher)",
        f"- PRAGMA quick_check: {'n/a (PostgreSQL)' if db['quick_check'] is None else db['quick_check']}",
    ]


# ---- main ----------------------------------------------------------------------------------------


@dataclass
class Run:
    phases: list[Phase]
    restarted: bool  # after every kill, healthy again
    died: int | None  # the server's exit code when it ended on its own
    settled: tuple[float, int | None]  # seconds waited for the outbox, pending at the start
    checked: dict[str, Any] = field(default_factory=dict)
    error_lines: list[str] = field(default_factory=list)


async def drive(
    args: argparse.Namespace, server: Server, texts: list[str], sites: list[str | None], db: Database
) -> Run:
    server.start()
    log(f"waiting for the server on {server.url} (the first start imports the demo and builds the index)")
    await server.wait_healthy()
    phases = []
    if args.compare_clients:
        phases.append(Phase("compare phase", args.compare_clients, args.compare_seconds))
        await run_phase(phases[-1], server, texts, sites, args, None, db)
    phases.append(Phase("main phase", args.clients, args.seconds))
    await run_phase(phases[-1], server, texts, sites, args, args.kill_at, db)
    restarted = bool(phases[-1].outages) and all(o.back is not None for o in phases[-1].outages)
    died = server.exited()  # our own kill was followed by a start: this is the server ending itself
    log("load done; waiting for the outbox to drain")
    settled = await settle_outbox(db, args.settle_seconds) if died is None else (0.0, None)
    server.stop()
    run = Run(phases, restarted, died, settled)
    run.checked = await verify(db, [a for p in phases for a in p.acks], db.sqlite_path is not None)
    return run


def report(
    args: argparse.Namespace, settings: Any, bare: tuple[int, float, int], run: Run, load: tuple[float, float]
) -> str:
    threads, rate_bare, encodes = bare
    first, main_phase = run.phases[0], run.phases[-1]
    lines = [
        f"# craftdesk load test, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"{args.clients} clients × {args.seconds:.0f} s, think {args.think_ms:.0f} ms, "
        f"timeout {args.timeout:.0f} s, kill at {f'{args.kill_at:.0f} s' if args.kill_at else 'never'}; "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}; model {settings.embedding_model} "
        f"({settings.embedding_backend}, {settings.encoder_threads} encoder thread per request); "
        f"{os.cpu_count()} CPUs shared with the load generator; 1-minute load average "
        f"{load[0]:.1f} before, {load[1]:.1f} after",
        "",
        "## Bare encoder (this process, before the server started)",
        "",
        "| threads | single-query encodes | queries/s |",
        "|---|---|---|",
        f"| {threads} | {encodes} in {args.encoder_seconds:.0f} s | {rate_bare:.1f} |",
        "",
    ]
    for phase in run.phases:
        lines += phase_report(phase, rate_bare) + [""]
    if len(run.phases) > 1:
        ratio = rate(main_phase) / rate(first) if rate(first) else 0.0
        lines += [
            f"Main / {first.clients}-client /api/ask throughput (while up): "
            f"{rate(main_phase):.1f} / {rate(first):.1f} = {ratio:.2f}",
            "",
        ]
    lines += db_report(run.checked, run.settled)
    lines += [
        "",
        f"Server log: {len(run.error_lines)} ERROR lines"
        + (f"; first: `{run.error_lines[0][:300]}`" if run.error_lines else ""),
    ]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    settings = load_settings()
    setup_logging("WARNING")
    cache = find_model_cache(args.model_cache, settings.embedding_model)
    settings = settings.model_copy(update={"model_cache": cache})
    texts = [q.text for q in load_queries(REPO / "knowledge" / "eval" / "queries.jsonl")]
    site_lines = (REPO / "knowledge" / "demo" / "sites.jsonl").read_text(encoding="utf-8").splitlines()
    codes = [json.loads(line)["code"] for line in site_lines if line.strip()]
    sites: list[str | None] = [*codes, *[None] * max(1, len(codes) // 3)]  # a quarter asked without a site
    load_before = os.getloadavg()[0]

    threads = os.cpu_count() or 1
    log(f"bare encoder: {threads} threads for {args.encoder_seconds:.0f} s (model cache {cache})")
    rate_bare, encodes = bare_encoder_rate(settings, texts, threads, args.encoder_seconds)
    log(f"bare encoder: {rate_bare:.1f} queries/s")

    with tempfile.TemporaryDirectory(prefix="craftdesk-load-") as tmp:
        data_dir = (args.data_dir or Path(tmp) / "var").resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        server = Server(server_env(settings, data_dir, cache, args.database_url), data_dir / "server.log")
        db = Database(None if args.database_url else data_dir / "craftdesk.db", args.database_url)

        async def drive_and_close() -> Run:
            try:
                return await drive(args, server, texts, sites, db)
            finally:
                await db.close()

        try:
            run = asyncio.run(drive_and_close())
        except ServerError as exc:
            print(server.log_tail(), file=sys.stderr)
            raise SystemExit(f"error: {exc}") from None
        except KeyboardInterrupt:
            raise SystemExit("interrupted") from None
        finally:
            server.stop()
        run.error_lines = server.error_lines()

    text = report(args, settings, (threads, rate_bare, encodes), run, (load_before, os.getloadavg()[0]))
    reasons = failed_checks(run.phases, run.checked, run.died, args, run.restarted)
    text += "\n\n## Result\n\n" + ("PASS" if not reasons else "FAIL\n" + "\n".join(f"- {r}" for r in reasons))
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    for reason in reasons:
        print(f"error: {reason}", file=sys.stderr)
    raise SystemExit(1 if reasons else 0)


if __name__ == "__main__":
    main()
