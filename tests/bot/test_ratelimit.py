"""Rate limits: the client address cannot be spoofed, buckets are forgotten least recently used
first, and the budgets per client, per address and per site hold (fake time, no sleeps)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import uvicorn

from bot.__main__ import UVICORN_OPTIONS
from bot.limits import TokenBucket
from bot.web.ratelimit import client_address
from tests.utils.http import FakeTime, app_of, client_from
from tests.utils.net import free_port

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


# ---- the buckets ---------------------------------------------------------------------------


def test_the_least_recently_used_bucket_is_forgotten_first():
    clock = FakeTime()
    bucket = TokenBucket(1, clock=clock, max_clients=2)
    assert bucket.take("busy") == 0 and bucket.take("quiet") == 0
    assert bucket.take("busy") > 0  # busy is now the most recently used, and empty
    assert bucket.take("new") == 0  # a third client: "quiet" is forgotten, not everyone
    assert list(bucket.buckets) == ["busy", "new"]
    assert bucket.take("busy") == pytest.approx(60)
    clock.advance(60)
    assert bucket.take("busy") == 0


# ---- through the app -----------------------------------------------------------------------


async def ask(http: httpx.AsyncClient, client_id: str | None = None, **body: str) -> httpx.Response:
    headers = {"X-Client-Id": client_id} if client_id is not None else {}
    return await http.post("/api/ask", json=QUESTION | body, headers=headers)


async def test_clients_behind_one_address_have_their_own_budget_under_the_address_cap(context):
    clock = FakeTime()
    limits = context.limits | {"ask": TokenBucket(2, clock=clock), "ask_address": TokenBucket(5, clock=clock)}
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
        over = await ask(factory, "browser-cccc")  # a fresh id, but the address has had 5
        assert over.status_code == 429 and "ask per address" in over.json()["detail"]
        assert int(over.headers["Retry-After"]) == 12
        assert (await ask(elsewhere, "browser-aaaa")).status_code == 200

        clock.advance(12)
        assert (await ask(factory, "browser-cccc")).status_code == 200


async def test_a_site_has_one_budget_for_questions_and_tickets(context):
    clock = FakeTime()
    limits = context.limits | {"ask_site": TokenBucket(3, clock=clock)}
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

        clock.advance(20)
        assert (await ask(one, site="xcmg-hv-3")).status_code == 200


async def test_spoofed_forwarded_for_shares_the_peer_bucket(context):
    limits = context.limits | {"ask": TokenBucket(2, clock=FakeTime())}
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
    limits = context.limits | {"ask": TokenBucket(1, clock=FakeTime())}
    async with client_from(context, "10.0.0.2", limits, settings) as proxy:
        for client in ("198.51.100.1", "198.51.100.2"):
            forwarded = {"X-Forwarded-For": f"6.6.6.6, {client}"}
            assert (await proxy.post("/api/ask", json=QUESTION, headers=forwarded)).status_code == 200
        forwarded = {"X-Forwarded-For": "7.7.7.7, 198.51.100.1"}  # a new spoofed part, same client
        assert (await proxy.post("/api/ask", json=QUESTION, headers=forwarded)).status_code == 429


async def test_the_server_does_not_let_uvicorn_rewrite_the_client_address(context):
    """``python -m bot``'s uvicorn options, over real TCP from loopback: uvicorn's default
    trusts X-Forwarded-For from 127.0.0.1, which would make every spoofed value a client."""
    limits = context.limits | {"ask": TokenBucket(2, clock=FakeTime())}
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
