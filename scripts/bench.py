"""Benchmark /api/ask over real HTTP and the index build, each next to the bare encoder cost.

Example:
    python scripts/bench.py                      # prints a markdown report
    python scripts/bench.py --requests 300 --out docs/bench-latest.md

Starts `python -m bot` on a free 127.0.0.1 port with a scratch data dir (demo knowledge),
then measures in one run, so the ratios compare like with like on this machine:
  * bare encode: one query through the encoder in this process (the floor of /api/ask),
    measured before and after the 1-client level;
  * /api/ask latency p50/p99 with 1 and 16 concurrent clients (bounded count and time), and
    the server's CPU time per answer (from /proc; it moves less than latency on a busy machine);
  * index build throughput (texts/s) against bare batch encoding of the same texts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
import numpy as np

from bot.context import make_encoder
from bot.logs import setup_logging
from bot.runtime import load_settings
from bot.settings import RateLimitSettings
from knowledge.interchange import CASES, parse_file
from retrieval.corpus import CaseDoc, Corpus
from retrieval.evaluation import load_queries
from retrieval.index import build_index

REPO = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python scripts/bench.py --requests 300",
    )
    parser.add_argument("--requests", type=int, default=400, help="requests per concurrency level")
    parser.add_argument("--max-seconds", type=float, default=60, help="time bound per level")
    parser.add_argument(
        "--build-copies",
        type=int,
        default=12,
        help="the demo cases repeated this often for the build benchmark",
    )
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    return parser.parse_args()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used, from /proc; None where there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bare_encode_ms(encoder, texts: list[str], rounds: int = 300) -> list[float]:
    for text in texts[:20]:
        encoder.encode([text])
    timings = []
    for i in range(rounds):
        started = time.perf_counter()
        encoder.encode([texts[i % len(texts)]])
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def load(url: str, texts: list[str], clients: int, total: int, max_seconds: float) -> list[float]:
    """``clients`` keep-alive connections sending questions back to back (aiohttp: a light
    client, so the figures are mostly the server's)."""
    latencies: list[float] = []
    deadline = time.monotonic() + max_seconds
    counter = iter(range(total))

    async def client(http: aiohttp.ClientSession) -> None:
        for i in counter:
            if time.monotonic() > deadline:
                return
            started = time.perf_counter()
            async with http.post(f"{url}/api/ask", json={"text": texts[i % len(texts)]}) as response:
                await response.read()
                latencies.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        for text in texts[:10]:  # warm-up, not counted
            async with http.post(f"{url}/api/ask", json={"text": text}) as response:
                response.raise_for_status()
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return latencies


def start_server(data_dir: Path, model_cache: Path) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTDESK_")}
    env |= {
        "CRAFTDESK_DATA_DIR": str(data_dir),
        "CRAFTDESK_MODEL_CACHE": str(model_cache),
        "CRAFTDESK_LOG_LEVEL": "WARNING",
        "CRAFTDESK_IMPORT_DEMO_WHEN_EMPTY": "true",  # measured on the demo knowledge
        # the load comes from one address: lift the limits for the measurement
        **RateLimitSettings.lifted_environment(),
    }
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bot", "--port", str(port)], cwd=REPO, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"error: the server exited with code {server.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).json()["status"] == "ok":
                return server, url
        except httpx.HTTPError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("error: the server did not become healthy in 300 s")


def main() -> None:
    args = parse_args()
    settings = load_settings()
    setup_logging("WARNING")
    encoder = make_encoder(settings)
    queries = [q.text for q in load_queries(REPO / "knowledge" / "eval" / "queries.jsonl")]
    lines = [
        f"model {encoder.model_id}, encoder threads {settings.encoder_threads}, "
        f"{os.cpu_count()} CPUs, {len(queries)} distinct question texts, "
        f"load average at start {os.getloadavg()[0]:.2f}",
        "",
    ]

    with tempfile.TemporaryDirectory() as tmp:
        server, url = start_server(Path(tmp) / "var", settings.model_cache_dir)
        try:
            # the floor is measured before and after the 1-client level, and its median over
            # both taken: on a shared machine a single measurement can land in a busy spell
            before = bare_encode_ms(encoder, queries)
            rows = []
            for clients in (1, 16):
                cpu_before = cpu_seconds(server.pid)
                started = time.perf_counter()
                latencies = asyncio.run(load(url, queries, clients, args.requests, args.max_seconds))
                rate = len(latencies) / (time.perf_counter() - started)
                cpu_after = cpu_seconds(server.pid)
                # what the server spent per answer (warm-up included), next to the floor: on a
                # shared machine it moves less than the latencies do
                cpu = (
                    ""
                    if cpu_before is None or cpu_after is None
                    else f"{1000 * (cpu_after - cpu_before) / (len(latencies) + 10):.2f}"
                )
                rows.append((clients, latencies, rate, cpu))
                if clients == 1:
                    after = bare_encode_ms(encoder, queries)
            floor = statistics.median(before + after)
            lines += [
                "| /api/ask | p50 ms | p99 ms | requests/s | p50 / bare encode | server CPU ms / request |",
                "|---|---|---|---|---|---|",
                f"| bare encode of one query (floor; {statistics.median(before):.2f} before, "
                f"{statistics.median(after):.2f} after the 1-client level) | {floor:.2f} | | | 1.00 | |",
            ]
            for clients, latencies, rate, cpu in rows:
                p50 = percentile(latencies, 50)
                lines.append(
                    f"| {clients} client{'s' if clients > 1 else ''} ({len(latencies)} requests) "
                    f"| {p50:.2f} | {percentile(latencies, 99):.2f} | {rate:.0f} "
                    f"| {p50 / floor:.2f} | {cpu} |"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)

    records, _ = parse_file(REPO / "knowledge" / "demo" / "cases.jsonl", CASES)
    demo = [
        CaseDoc(r.id, r.title, r.question, r.answer, r.industry, r.expert_id, tuple(r.tags))
        for _, r in records
    ]
    # each copy's texts made distinct: build_index encodes a text it has seen once only
    cases = [
        CaseDoc(
            f"{c.id}-{n}",
            f"{c.title}（{n}）",
            f"{c.question}（{n}）",
            c.answer,
            c.industry,
            c.expert_id,
            c.tags,
        )
        for n in range(args.build_copies)
        for c in demo
    ]
    corpus = Corpus(cases, [])
    texts = [view for c in cases for view in c.views]  # what build_index encodes
    started = time.perf_counter()
    encoder.encode(texts)
    bare_rate = len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    build_index(corpus, encoder)
    build_rate = len(texts) / (time.perf_counter() - started)
    lines += [
        "",
        "| index build | texts/s | ratio |",
        "|---|---|---|",
        f"| bare batch encoding ({len(texts)} case texts: {len(cases)} cases, every view) "
        f"| {bare_rate:.1f} | 1.00 |",
        f"| build_index (encode + faiss + BM25 + typo words) | {build_rate:.1f} "
        f"| {build_rate / bare_rate:.2f} |",
    ]
    lines.append(
        f"\nload average at the end {os.getloadavg()[0]:.2f}: other work on the machine skews every figure"
    )
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
