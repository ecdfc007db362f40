"""How long an expert's answer takes to reach the worker's open chat: the live-update stream
(server-sent events) against polling every 4 s, as the page did before.

Example:
    python scripts/bench_live.py
    python scripts/bench_live.py --runs 30 --poll-seconds 4 --out /tmp/live.md

Starts `python -m bot` on a free 127.0.0.1 port with a scratch data dir (demo knowledge, SQLite,
rate limits lifted, log level WARNING). Each run opens a ticket through the API, then either
follows `GET /api/tickets/{id}/events` (stream) or reads `GET /api/tickets/{id}` every
`--poll-seconds` from a random phase (polling), and times from just before the expert's `POST
/api/expert/tickets/{id}/answer` to the moment the worker's side holds the answer; the ticket
is then closed. Prints (or writes with --out) a Markdown section: median, p95 and max per way.
Exit code 0, or 1 with a one-line message when the server fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from bot.settings import RateLimitSettings

REPO = Path(__file__).resolve().parent.parent
SITE = "xcmg-hv-3"
PROBLEM = "注塑机开模的时候模具有异响，咔咔的响，是顶针板卡了吗"
ANSWER = "先检查顶针板导柱润滑，再查顶出行程和复位弹簧。"


class BenchError(Exception):
    pass


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python scripts/bench_live.py --runs 30 --out /tmp/live.md",
    )
    parser.add_argument("--runs", type=int, default=30, help="answers timed per way (default 30)")
    parser.add_argument("--poll-seconds", type=float, default=4.0, help="the polling page's pace (default 4)")
    parser.add_argument(
        "--model-cache",
        type=Path,
        default=Path(
            os.environ.get("CRAFTDESK_MODEL_CACHE")
            or os.environ.get("CRAFTDESK_TEST_MODEL_CACHE")
            or REPO / ".cache" / "test-models"
        ),
        help="where the converted model is (default: $CRAFTDESK_MODEL_CACHE or .cache/test-models)",
    )
    parser.add_argument("--out", type=Path, help="write the Markdown section here (default: print it)")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`python -m bot` on 127.0.0.1 with a scratch data dir."""

    def __init__(self, data_dir: Path, model_cache: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin = secrets.token_urlsafe(32)
        self.log = data_dir / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTDESK_")}
        env |= {
            "CRAFTDESK_DATA_DIR": str(data_dir),
            "CRAFTDESK_MODEL_CACHE": str(model_cache),
            "CRAFTDESK_IMPORT_DEMO_WHEN_EMPTY": "true",
            "CRAFTDESK_LOG_LEVEL": "WARNING",
            "CRAFTDESK_ADMIN_TOKEN": self.admin,
            **RateLimitSettings.lifted_environment(),
        }
        data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=REPO,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )

    async def wait_healthy(self, http: httpx.AsyncClient, seconds: float = 300) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"the server exited with code {self.process.returncode}; see {self.log}")
            try:
                if (await http.get(f"{self.url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
        raise BenchError(f"the server did not become healthy in {seconds:.0f} s; see {self.log}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Desk:
    """The API calls of one run: a ticket, its expert's answer, its close."""

    def __init__(self, http: httpx.AsyncClient, server: Server):
        self.http, self.server = http, server
        self.experts: dict[str, dict[str, str]] = {}

    async def ticket(self) -> tuple[str, dict[str, str], dict[str, str]]:
        """A new ticket: its id, the worker's header, its expert's header."""
        opened = (
            await self.http.post("/api/tickets", json={"text": PROBLEM, "site": SITE})
        ).raise_for_status()
        body = opened.json()
        if body["expert"] is None:
            raise BenchError("the ticket was not routed to an expert; the demo knowledge is missing?")
        expert_id = body["expert"]["expert_id"]
        if expert_id not in self.experts:
            issued = await self.http.post(
                f"/api/admin/experts/{expert_id}/token",
                headers={"Authorization": f"Bearer {self.server.admin}"},
            )
            self.experts[expert_id] = {"Authorization": f"Bearer {issued.raise_for_status().json()['token']}"}
        return body["ticket_id"], {"X-Ticket-Token": body["token"]}, self.experts[expert_id]

    async def answer(self, ticket_id: str, expert: dict[str, str]) -> float:
        """The expert answers; the moment the answer was sent (perf_counter)."""
        sent = time.perf_counter()
        (
            await self.http.post(
                f"/api/expert/tickets/{ticket_id}/answer", headers=expert, json={"text": ANSWER}
            )
        ).raise_for_status()
        return sent

    async def close(self, ticket_id: str, worker: dict[str, str]) -> None:
        await self.http.post(f"/api/tickets/{ticket_id}/close", headers=worker, json={"rating": 5})


async def ticket_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The ``event: ticket`` payloads of a stream (keep-alives skipped)."""
    name, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif line == "" and data:
            if name == "ticket":
                yield json.loads(data)
            name, data = "", ""


async def by_stream(desk: Desk) -> float:
    ticket_id, worker, expert = await desk.ticket()
    async with desk.http.stream("GET", f"/api/tickets/{ticket_id}/events", headers=worker) as response:
        response.raise_for_status()
        events = ticket_events(response)
        await anext(events)  # the ticket as it is
        sent = await desk.answer(ticket_id, expert)
        async for ticket in events:
            if ticket["has_answer"]:
                delay = time.perf_counter() - sent
                break
        else:
            raise BenchError("the stream ended before the answer came")
    await desk.close(ticket_id, worker)
    return delay


async def by_polling(desk: Desk, every: float) -> float:
    ticket_id, worker, expert = await desk.ticket()
    answered = asyncio.Event()
    seen: list[float] = []

    async def poll() -> None:
        await asyncio.sleep(random.uniform(0, every))  # the page's timer runs at its own phase
        while True:
            started = time.perf_counter()
            ticket = (await desk.http.get(f"/api/tickets/{ticket_id}", headers=worker)).json()
            if ticket["has_answer"] and answered.is_set():
                seen.append(time.perf_counter())
                return
            await asyncio.sleep(max(0.0, every - (time.perf_counter() - started)))

    poller = asyncio.create_task(poll())
    await asyncio.sleep(random.uniform(0, every))  # the expert answers whenever they do
    sent = await desk.answer(ticket_id, expert)
    answered.set()
    await poller
    await desk.close(ticket_id, worker)
    return seen[0] - sent


def summary(name: str, delays: list[float]) -> str:
    ordered = sorted(delays)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"| {name} | {len(ordered)} | {statistics.median(ordered) * 1000:.0f} ms | {p95 * 1000:.0f} ms "
        f"| {ordered[-1] * 1000:.0f} ms |"
    )


async def bench(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="craftdesk-live-") as scratch:
        server = Server(Path(scratch) / "var", args.model_cache)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                print(
                    f"waiting for the server on {server.url} (the first start builds the index)",
                    file=sys.stderr,
                )
                await server.wait_healthy(http)
                desk = Desk(http, server)
                streamed = [await by_stream(desk) for _ in range(args.runs)]
                print(f"stream: {args.runs} runs done", file=sys.stderr)
                polled = [await by_polling(desk, args.poll_seconds) for _ in range(args.runs)]
                print(f"polling: {args.runs} runs done", file=sys.stderr)
        finally:
            server.stop()
    return "\n".join(
        [
            "| the worker's page | runs | median | p95 | max |",
            "|---|---:|---:|---:|---:|",
            summary("live-update stream (server-sent events)", streamed),
            summary(f"polling every {args.poll_seconds:g} s (before)", polled),
        ]
    )


def main() -> None:
    args = parse_args()
    try:
        table = asyncio.run(bench(args))
    except (BenchError, httpx.HTTPError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    else:
        print(table)


if __name__ == "__main__":
    main()
