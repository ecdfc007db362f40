"""Rate limits in a real Redis (``CRAFTDESK_REDIS_URL``): the budgets of two instances are one
budget, so a client spread over two app contexts still gets its 429; a budget in Redis keeps
the moving-window semantics; an unreachable Redis lets requests through and says so."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.context import open_context
from bot.limits import Budget
from bot.settings import Settings
from bot.shared_state import SharedState
from tests.utils.http import client_from
from tests.utils.net import free_port

pytestmark = pytest.mark.redis

QUESTION = {"text": "车床报警"}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


@pytest.fixture
def settings(settings: Settings, redis_url: str) -> Settings:
    limits = settings.rate_limit.model_copy(update={"ask_per_minute": 4})
    return settings.model_copy(
        update={"redis_url": SecretStr(redis_url), "rate_limit": limits, "instance_id": "instance-a"}
    )


async def ask(http: httpx.AsyncClient) -> httpx.Response:
    return await http.post("/api/ask", json=QUESTION, headers={"X-Client-Id": "browser-aaaa"})


async def test_a_client_spread_over_two_instances_has_one_budget(context, encoder):
    assert context.shared.where == "redis"
    other_settings = context.settings.model_copy(update={"instance_id": "instance-b"})
    async with open_context(other_settings, encoder=encoder) as other:
        async with (
            client_from(context, "198.51.100.1") as a,
            client_from(other, "198.51.100.1") as b,
            client_from(other, "198.51.100.2") as elsewhere,
        ):
            codes = [(await ask(http)).status_code for http in (a, b, a, b)]
            assert codes == [200, 200, 200, 200]
            for http in (a, b):
                refused = await ask(http)
                assert refused.status_code == 429 and "ask per client" in refused.json()["detail"]
                assert 55 <= int(refused.headers["Retry-After"]) <= 60
            assert (await ask(elsewhere)).status_code == 200  # another address is another client


async def test_a_budget_in_redis_is_a_moving_window(redis_url: str):
    one, two = SharedState.open(redis_url), SharedState.open(redis_url)  # two instances' connections
    try:
        first, second = Budget("tickets", 2, one.limits), Budget("tickets", 2, two.limits)
        assert await first.take("10.0.0.9") == 0 and await second.take("10.0.0.9") == 0
        assert 59 < await first.wait("10.0.0.9") <= 60
        assert 59 < await second.take("10.0.0.9") <= 60  # refused: not counted
        assert await first.take("10.0.0.10") == 0
    finally:
        await one.close()
        await two.close()


async def test_an_unreachable_redis_lets_requests_through_and_says_so(caplog: pytest.LogCaptureFixture):
    shared = SharedState.open(f"redis://127.0.0.1:{free_port()}/0")
    budget = Budget("ask", 1, shared.limits)
    with caplog.at_level(logging.WARNING, logger="bot.limits"):
        assert [await budget.take("198.51.100.1") for _ in range(3)] == [0, 0, 0]
    await shared.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.limits"]
    assert warnings == ["rate limit storage unreachable: requests pass unlimited"]  # once, not per request
