"""Rate limits: the client address cannot be spoofed, a budget is a moving window that forgets
quiet keys, and the budgets per client, per address and per site hold (fake time, no sleeps)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import uvicorn
from limits.aio.storage import MemoryStorage

from bot.__main__ import UVICORN_OPTIONS
from bot.limits import Budget
from bot.web.ratelimit import client_address
from tests.utils.http import FakeTime, app_of, budget, client_from, limits_on
from tests.utils.net import free_port
from tests.utils.wait import eventually

QUESTION = {"text": "车床报警"}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


# ---- the client address --------------------------------------------------------------------


def test_forwarded_for_from_an_untrusted_peer_is_ignored():
    assert client_address("203.0.113.5", ["1.2.3.4"], []) == "203.0.113.5"
    assert client_address("203.0.113.5", ["1.2.3.4"], ["10.0.0.0/8"]) == "203.0.113.5"


def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client():
    proxies = ["10.0.0.0/24", "192.0.2.1/32"]
    # the client sent "6.6.6.6" itself; our proxies appended what they saw, right of it
    assert client_address("10.0.0.2", ["6.6.6.6, 198.51.100.20, 192.0.2.1"], proxies) == "198.51.100.20"
    assert client_address("10.0.0.2", ["6.6.6.6", "198.51.100.20:5123, 10.0.0.3"], proxies) == "198.51.100.20"
    assert client_address("10.0.0.2", ["[2001:db8::7]:443"], proxies) == "2001:db8::7"
    assert client_address("::ffff:10.0.0.2", ["198.51.100.20"], proxies) == "198.51.100.20"
    assert client_address("10.0.0.2", ["10.0.0.9, 10.0.0.3"], proxies) == "10.0.0.9"  # all ours
    assert client_address("10.0.0.2", [], proxies) == "10.0.0.2"


def test_a_malformed_hop_is_never_the_key():
    proxies = ["10.0.0.0/24"]
    assert client_address("10.0.0.2", ["198.51.100.20, bogus"], proxies) == "10.0.0.2"
    assert client_address("10.0.0.2", ["198.51.100.20, 10.0.0.3, ,"], proxies) == "10.0.0.2"
    assert client_address("10.0.0.2", ["bogus, 10.0.0.3"], proxies) == "10.0.0.3"
    assert client_address(None, ["198.51.100.20"], proxies) == "unknown"


# ---- a budget ------------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    clock = FakeTime()
    limits_on(monkeypatch, clock)
    return clock


async def test_a_budget_counts_the_hits_of_the_last_minute(clock: FakeTime):
    ask = Budget("ask", 3, MemoryStorage(), clock=clock)
    for _ in range(3):
        assert await ask.take("busy") == 0
        clock.advance(10)
    assert await ask.wait("busy") == pytest.approx(30)  # the first hit leaves the minute in 30 s
    assert await ask.take("busy") == pytest.approx(30)  # refused, and not counted
    assert await ask.take("other") == 0  # keys have budgets of their own
    clock.advance(30.5)
    assert await ask.take("busy") == 0
    assert await ask.take("busy") == pytest.approx(9.5)  # now the second hit (at 10 s) is the oldest


async def test_a_quiet_key_is_forgotten(clock: FakeTime):
    """Memory stays bounded by the clients of the last minute: the storage drops a key whose
    hits have all left the window (the library's own expiry, run after a hit)."""
    storage = MemoryStorage()
    ask = Budget("ask", 3, storage, clock=clock)
    assert await ask.take("quiet") == 0
    clock.advance(61)
    assert await ask.take("busy") == 0

    async def only_busy() -> bool:
        return [key.split("/")[1] for key in storage.events] == ["busy"]

    await eventually(only_busy, what="the quiet key forgotten")


# ---- through the app -----------------------------------------------------------------------


async def ask(http: httpx.AsyncClient, client_id: str | None = None, **body: str) -> httpx.Response:
    headers = {"X-Client-Id": client_id} if client_id is not None else {}
    return await http.post("/api/ask", json=QUESTION | body, headers=headers)


async def test_clients_behind_one_address_have_their_own_budget_under_the_address_cap(
    context, clock: FakeTime
):
    limits = context.limits | {"ask": budget("ask", 2, clock), "ask_address": budget("ask_address", 5, clock)}
    async with (
        client_from(context, "198.51.100.1", limits) as factory,
        client_from(context, "198.51.100.2", limits) as elsewhere,
    ):
        assert [(await ask(factory, "browser-aaaa")).status_code for _ in range(3)] == [200, 200, 429]
        assert (
            (await ask(factory, "browser-aaaa"))
            .json()["detail"]
            .startswith("too many requests (ask per client)")
        )
        assert [(await ask(factory, "browser-bbbb")).status_code for _ in range(2)] == [200, 200]
        assert (await ask(factory, "bad id!")).status_code == 200  # ignored: counts as the address
        clock.advance(0.5)
        over = await ask(factory, "browser-cccc")  # a fresh id, but the address has had 5
        assert over.status_code == 429 and "ask per address" in over.json()["detail"]
        assert int(over.headers["Retry-After"]) == 60  # 59.5 s, rounded up
        assert (await ask(elsewhere, "browser-aaaa")).status_code == 200

        clock.advance(59)
        assert (await ask(factory, "browser-cccc")).status_code == 429
        clock.advance(1)
        assert (await ask(factory, "browser-cccc")).status_code == 200


async def test_a_site_has_one_budget_for_questions_and_tickets(context, clock: FakeTime):
    limits = context.limits | {"ask_site": budget("ask_site", 3, clock)}
    async with (
        client_from(context, "198.51.100.1", limits) as one,
        client_from(context, "198.51.100.2", limits) as two,
    ):
        codes = [(await ask(http, site="xcmg-hv-3")).status_code for http in (one, two, one)]
        assert codes == [200, 200, 200]
        refused = await ask(two, site="xcmg-hv-3")
        assert refused.status_code == 429 and "ask per site" in refused.json()["detail"]
        ticket = await two.post("/api/tickets", json=QUESTION | {"site": "xcmg-hv-3"})
        assert ticket.status_code == 429 and "ask per site" in ticket.json()["detail"]
        assert (await ask(two, site="xk-qishan-belt")).status_code == 200
        assert (await ask(two)).status_code == 200  # no site named

        clock.advance(59.5)
        assert (await ask(one, site="xcmg-hv-3")).status_code == 429
        clock.advance(1)
        assert (await ask(one, site="xcmg-hv-3")).status_code == 200


async def test_spoofed_forwarded_for_shares_the_peer_bucket(context):
    limits = context.limits | {"ask": budget("ask", 2)}
    async with client_from(context, "198.51.100.1", limits) as http:
        codes = [
            (
                await http.post("/api/ask", json=QUESTION, headers={"X-Forwarded-For": f"1.2.3.{n}"})
            ).status_code
            for n in range(3)
        ]
    assert codes == [200, 200, 429]


async def test_a_trusted_proxy_forwards_the_client_address(context):
    settings = context.settings.model_copy(
        update={
            "rate_limit": context.settings.rate_limit.model_copy(update={"trusted_proxies": ["10.0.0.0/24"]})
        }
    )
    limits = context.limits | {"ask": budget("ask", 1)}
    async with client_from(context, "10.0.0.2", limits, settings) as proxy:
        for client in ("198.51.100.1", "198.51.100.2"):
            forwarded = {"X-Forwarded-For": f"6.6.6.6, {client}"}
            assert (await proxy.post("/api/ask", json=QUESTION, headers=forwarded)).status_code == 200
        forwarded = {"X-Forwarded-For": "7.7.7.7, 198.51.100.1"}  # a new spoofed part, same client
        assert (await proxy.post("/api/ask", json=QUESTION, headers=forwarded)).status_code == 429


async def test_the_server_does_not_let_uvicorn_rewrite_the_client_address(context):
    """``python -m bot``'s uvicorn options, over real TCP from loopback: uvicorn's default
    trusts X-Forwarded-For from 127.0.0.1, which would make every spoofed value a client."""
    limits = context.limits | {"ask": budget("ask", 2)}
    port = free_port()
    config = uvicorn.Config(
        app_of(context, limits), host="127.0.0.1", port=port, ws="none", access_log=False, **UVICORN_OPTIONS
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), "the server did not start"
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            codes = [
                (
                    await http.post("/api/ask", json=QUESTION, headers={"X-Forwarded-For": f"1.2.3.{n}"})
                ).status_code
                for n in range(3)
            ]
    finally:
        server.should_exit = True
        await serving
    assert codes == [200, 200, 429]
