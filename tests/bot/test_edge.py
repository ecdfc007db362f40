"""The ASGI edge on its own, around a small app: turns, body limits, headers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bot.web.edge import MAX_JSON_BYTES, EdgeMiddleware


class Recorder:
    """An ASGI app that reads the body, waits a moment and answers; it notes how many
    requests it held at once and in which order they came in."""

    def __init__(self) -> None:
        self.inside = self.most = 0
        self.order: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.inside += 1
        self.most = max(self.most, self.inside)
        self.order.append(scope["path"])
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await asyncio.sleep(0.01)
        self.inside -= 1
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_rush_is_worked_on_a_few_at_a_time_in_arrival_order():
    inner = Recorder()
    async with client(EdgeMiddleware(inner, max_in_flight=4)) as http:
        answers = await asyncio.gather(*(http.post(f"/api/{n}", content=b"{}") for n in range(60)))
    assert [a.status_code for a in answers] == [200] * 60
    assert inner.most == 4
    assert inner.order == [f"/api/{n}" for n in range(60)]  # first come, first served


async def test_a_slow_sender_does_not_hold_a_turn():
    inner = Recorder()
    edge = EdgeMiddleware(inner, max_in_flight=1)

    async def trickle():  # a body that arrives in pieces, slowly
        for _ in range(5):
            await asyncio.sleep(0.05)
            yield b"x" * 10

    async with client(edge) as http:
        slow = asyncio.create_task(http.post("/api/slow", content=trickle()))
        await asyncio.sleep(0.02)
        fast = await asyncio.wait_for(http.post("/api/fast", content=b"{}"), timeout=0.2)
        assert fast.status_code == 200 and not slow.done()
        assert (await slow).text == "50"


async def test_bodies_over_the_limit_are_413_and_every_answer_has_nosniff():
    inner = Recorder()
    async with client(EdgeMiddleware(inner)) as http:
        declared = await http.post("/api/ask", content=b"x" * (MAX_JSON_BYTES + 1))

        async def undeclared():  # no Content-Length: counted while it streams
            for _ in range(MAX_JSON_BYTES // 1024 + 2):
                yield b"x" * 1024

        streamed = await http.post("/api/ask", content=undeclared())
        fine = await http.post("/api/ask", content=b"{}")
    assert declared.status_code == streamed.status_code == 413
    assert "larger than" in declared.json()["detail"]
    assert fine.status_code == 200 and fine.headers["x-content-type-options"] == "nosniff"
    assert inner.order == ["/api/ask"]  # the app never saw the oversized ones
