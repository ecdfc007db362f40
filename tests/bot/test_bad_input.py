"""The bad-input catalogue: every kind of caller input that is wrong gets its exact status and a
``detail`` a person can act on, never a 5xx, and nothing already stored is lost."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from knowledge.models import Expert, ExpertToken, Question, Ticket
from tests.factories import png_bytes
from tests.utils.auth import ADMIN

ROUTED = "注塑机开模的时候模具有异响，咔咔的响，是顶针板卡了吗"
PNG = png_bytes()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


class World:
    """One routed question with its ticket, and an expert's token, to aim bad calls at."""

    def __init__(self, client: httpx.AsyncClient, context: Any):
        self.client, self.context = client, context
        self.question_id = self.ticket_id = self.token = self.expert_id = self.expert_token = ""

    async def build(self) -> World:
        asked = (await self.client.post("/api/ask", json={"text": ROUTED, "site": "xcmg-hv-3"})).json()
        assert asked["decision"] == "route" and asked["ticket"]
        self.question_id = asked["question_id"]
        self.ticket_id, self.token = asked["ticket"]["ticket_id"], asked["ticket"]["token"]
        self.expert_id = asked["ticket"]["expert"]["expert_id"]
        issued = await self.client.post(f"/api/admin/experts/{self.expert_id}/token", headers=ADMIN)
        self.expert_token = issued.json()["token"]
        return self

    def worker(self) -> dict[str, str]:
        return {"X-Ticket-Token": self.token}

    def expert(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.expert_token}"}


@pytest.fixture
async def world(client: httpx.AsyncClient, context: Any) -> World:
    return await World(client, context).build()


def raw(body: str) -> dict[str, Any]:
    """A JSON body sent as written (``\\ud800`` stays an escape the server must decode)."""
    return {"content": body.encode("utf-8")}


# (name, method, path, request kwargs, status, a phrase of the detail). ``{q}``, ``{t}`` and
# ``{e}`` stand for the question, the ticket and the expert; headers named "worker"/"expert"
# are filled in from the world.
CATALOGUE: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    # the question
    ("lone surrogate", "POST", "/api/ask", raw('{"text": "\\ud800 机床报警"}'), 422, "surrogate"),
    ("low surrogate alone", "POST", "/api/ask", raw('{"text": "主轴\\udc00异响"}'), 422, "surrogate"),
    ("NUL", "POST", "/api/ask", {"json": {"text": "主轴\u0000异响"}}, 422, "U+0000"),
    ("escape sequence", "POST", "/api/ask", {"json": {"text": "\u001b[31m主轴异响"}}, 422, "U+001B"),
    ("C1 control", "POST", "/api/ask", {"json": {"text": "主轴\u0085异响"}}, 422, "U+0085"),
    ("DEL", "POST", "/api/ask", {"json": {"text": "主轴\u007f异响"}}, 422, "U+007F"),
    ("zero-width only", "POST", "/api/ask", {"json": {"text": "\u200b\u200c\u200d\ufeff"}}, 422, "empty"),
    ("whitespace only", "POST", "/api/ask", {"json": {"text": " \n\t\u3000 "}}, 422, "empty"),
    ("too long", "POST", "/api/ask", {"json": {"text": "机" * 2001}}, 422, "at most 2000"),
    ("text not a string", "POST", "/api/ask", {"json": {"text": 42}}, 422, "text"),
    ("no text", "POST", "/api/ask", {"json": {"site": "xcmg-hv-3"}}, 422, "text"),
    ("unknown site", "POST", "/api/ask", {"json": {"text": "主轴异响", "site": "no-such"}}, 422, "no-such"),
    ("NUL in site", "POST", "/api/ask", {"json": {"text": "主轴异响", "site": "x\u0000"}}, 422, "U+0000"),
    (
        "surrogate in site",
        "POST",
        "/api/ask",
        raw('{"text": "主轴异响", "site": "\\udfff"}'),
        422,
        "surrogate",
    ),
    ("broken JSON", "POST", "/api/ask", raw('{"text": "主轴'), 422, ""),
    ("JSON not an object", "POST", "/api/ask", raw('["主轴异响"]'), 422, ""),
    (
        "5 MB question",
        "POST",
        "/api/ask",
        {"json": {"text": "机" * (5 * 1024 * 1024 // 3)}},
        413,
        "larger than",
    ),
    # opening a ticket, feedback
    ("neither id nor text", "POST", "/api/tickets", {"json": {}}, 422, "question_id"),
    ("unknown question", "POST", "/api/tickets", {"json": {"question_id": "nope"}}, 404, "nope"),
    ("NUL question id", "POST", "/api/tickets", {"json": {"question_id": "\u0000"}}, 422, "U+0000"),
    ("surrogate question id", "POST", "/api/tickets", raw('{"question_id": "\\ud83d"}'), 422, "surrogate"),
    ("bad text for a ticket", "POST", "/api/tickets", {"json": {"text": "\u200b"}}, 422, "empty"),
    (
        "feedback, unknown question",
        "POST",
        "/api/questions/nope/feedback",
        {"json": {"solved": True}},
        404,
        "nope",
    ),
    (
        "feedback, unknown case",
        "POST",
        "/api/questions/{q}/feedback",
        {"json": {"solved": True, "case_id": "K-none"}},
        422,
        "K-none",
    ),
    (
        "feedback, not a verdict",
        "POST",
        "/api/questions/{q}/feedback",
        {"json": {"solved": "maybe"}},
        422,
        "solved",
    ),
    # reading and writing a ticket
    ("no token", "GET", "/api/tickets/{t}", {}, 404, "no such ticket"),
    (
        "wrong token",
        "GET",
        "/api/tickets/{t}",
        {"headers": {"X-Ticket-Token": "x" * 43}},
        404,
        "no such ticket",
    ),
    ("unknown ticket", "GET", "/api/tickets/nope", {"headers": "worker"}, 404, "no such ticket"),
    ("NUL in the path", "GET", "/api/tickets/%00", {"headers": "worker"}, 422, "path"),
    ("bytes that are no UTF-8 in the path", "GET", "/api/tickets/%ff%fe", {"headers": "worker"}, 422, "path"),
    (
        "empty message",
        "POST",
        "/api/tickets/{t}/messages",
        {"json": {"text": "  "}, "headers": "worker"},
        422,
        "empty",
    ),
    (
        "control character in a message",
        "POST",
        "/api/tickets/{t}/messages",
        {"json": {"text": "压力\u0007偏低"}, "headers": "worker"},
        422,
        "U+0007",
    ),
    (
        "message too long",
        "POST",
        "/api/tickets/{t}/messages",
        {"json": {"text": "压" * 4001}, "headers": "worker"},
        422,
        "at most 4000",
    ),
    (
        "message without token",
        "POST",
        "/api/tickets/{t}/messages",
        {"json": {"text": "还在吗"}},
        404,
        "no such ticket",
    ),
    (
        "rating out of range",
        "POST",
        "/api/tickets/{t}/close",
        {"json": {"rating": 6}, "headers": "worker"},
        422,
        "rating",
    ),
    (
        "rating not a number",
        "POST",
        "/api/tickets/{t}/close",
        {"json": {"rating": "好"}, "headers": "worker"},
        422,
        "rating",
    ),
    # photos
    (
        "photo without token",
        "POST",
        "/api/tickets/{t}/photos",
        {"files": {"photo": ("p.png", PNG, "image/png")}},
        404,
        "no such ticket",
    ),
    (
        "photo not multipart",
        "POST",
        "/api/tickets/{t}/photos",
        {"json": {"photo": "x"}, "headers": "worker"},
        422,
        "multipart",
    ),
    (
        "photo field missing",
        "POST",
        "/api/tickets/{t}/photos",
        {"files": {"file": ("p.png", PNG, "image/png")}, "headers": "worker"},
        422,
        "photo",
    ),
    (
        "not an image",
        "POST",
        "/api/tickets/{t}/photos",
        {"files": {"photo": ("p.png", b"%PDF-1.4 not a picture", "image/png")}, "headers": "worker"},
        422,
        "JPEG, PNG or WebP",
    ),
    (
        "a PNG that does not decode",
        "POST",
        "/api/tickets/{t}/photos",
        {"files": {"photo": ("p.png", PNG[:40], "image/png")}, "headers": "worker"},
        422,
        "photo",
    ),
    (
        "photo over the limit",
        "POST",
        "/api/tickets/{t}/photos",
        {"files": {"photo": ("p.png", PNG + b"\0" * (11 * 1024 * 1024), "image/png")}, "headers": "worker"},
        413,
        "larger than",
    ),
    (
        "caption with a control character",
        "POST",
        "/api/tickets/{t}/photos",
        {"files": {"photo": ("p.png", PNG, "image/png")}, "data": {"text": "\u0000"}, "headers": "worker"},
        422,
        "U+0000",
    ),
    # bearer tokens
    ("no bearer", "GET", "/api/expert/tickets", {}, 401, "bearer"),
    ("empty bearer", "GET", "/api/expert/tickets", {"headers": {"Authorization": "Bearer "}}, 401, "bearer"),
    (
        "basic auth",
        "GET",
        "/api/admin/stats",
        {"headers": {"Authorization": "Basic YWRtaW46YWRtaW4="}},
        401,
        "bearer",
    ),
    (
        "unknown token",
        "GET",
        "/api/admin/stats",
        {"headers": {"Authorization": "Bearer " + "z" * 43}},
        401,
        "invalid",
    ),
    ("expert token on an admin call", "GET", "/api/admin/stats", {"headers": "expert"}, 403, "admin"),
    ("admin token on an expert call", "GET", "/api/expert/tickets", {"headers": ADMIN}, 403, "expert"),
    # the expert's calls
    ("claim an unknown ticket", "POST", "/api/expert/tickets/nope/claim", {"headers": "expert"}, 404, "nope"),
    (
        "empty answer",
        "POST",
        "/api/expert/tickets/{t}/answer",
        {"json": {"text": ""}, "headers": "expert"},
        422,
        "empty",
    ),
    (
        "surrogate in an answer",
        "POST",
        "/api/expert/tickets/{t}/answer",
        {**raw('{"text": "\\ud800"}'), "headers": "expert"},
        422,
        "surrogate",
    ),
    (
        "answer photo that is no image",
        "POST",
        "/api/expert/tickets/{t}/photos",
        {"files": {"photo": ("p.jpg", b"GIF89a....", "image/jpeg")}, "headers": "expert"},
        422,
        "JPEG, PNG or WebP",
    ),
    # the admin's calls
    (
        "publish an unanswered ticket",
        "POST",
        "/api/admin/candidates/{t}/publish",
        {"json": {"title": "标题", "question": "问题", "answer": "答案"}, "headers": ADMIN},
        409,
        "no answer",
    ),
    (
        "publish with an empty title",
        "POST",
        "/api/admin/candidates/{t}/publish",
        {"json": {"title": "\u200b", "question": "问题", "answer": "答案"}, "headers": ADMIN},
        422,
        "title",
    ),
    (
        "assign to an unknown expert",
        "POST",
        "/api/admin/tickets/{t}/assign",
        {"json": {"expert_id": "E-none"}, "headers": ADMIN},
        404,
        "E-none",
    ),
    (
        "token for an unknown expert",
        "POST",
        "/api/admin/experts/E-none/token",
        {"headers": ADMIN},
        404,
        "E-none",
    ),
    ("QR of an unknown site", "GET", "/api/admin/sites/no-such/qr.png", {"headers": ADMIN}, 404, "no-such"),
    ("stats with a bad date", "GET", "/api/admin/stats?since=yesterday", {"headers": ADMIN}, 422, "since"),
]


def _fill(world: World, path: str, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    path = path.format(q=world.question_id, t=world.ticket_id, e=world.expert_id)
    kwargs = dict(kwargs)
    named = kwargs.get("headers")
    headers = (
        {"worker": world.worker(), "expert": world.expert()}[named]
        if isinstance(named, str)
        else dict(named or {})
    )
    if "content" in kwargs:
        headers["Content-Type"] = "application/json"
    kwargs["headers"] = headers
    return path, kwargs


@pytest.mark.slow
async def test_bad_input_catalogue(world: World, client: httpx.AsyncClient, context: Any):
    async with context.sessions() as session:
        before = (
            await session.scalar(select(func.count()).select_from(Question)),
            await session.scalar(select(func.count()).select_from(Ticket)),
        )
    wrong = []
    for name, method, path, kwargs, status, phrase in CATALOGUE:
        url, request = _fill(world, path, kwargs)
        response = await client.request(method, url, **request)
        detail = (
            response.json().get("detail", "")
            if response.headers.get("content-type", "").startswith("application/json")
            else response.text
        )
        if (
            response.status_code != status
            or phrase.lower() not in json.dumps(detail, ensure_ascii=False).lower()
        ):
            wrong.append(f"{name}: {response.status_code} {detail!r} (expected {status} with {phrase!r})")
    assert wrong == []
    async with context.sessions() as session:  # nothing stored was lost, no half-written rows
        after = (
            await session.scalar(select(func.count()).select_from(Question)),
            await session.scalar(select(func.count()).select_from(Ticket)),
        )
    assert after == before
    seen = await client.get(f"/api/tickets/{world.ticket_id}", headers=world.worker())
    assert seen.status_code == 200 and [m["author"] for m in seen.json()["messages"]] == ["worker"]


async def test_a_big_upload_from_a_stranger_is_refused_before_it_is_read(
    world: World, client: httpx.AsyncClient
):
    """The token is checked before the form is read: a stream that would break the parser if it
    were read answers 404 all the same (its body is never looked at)."""
    response = await client.post(
        f"/api/tickets/{world.ticket_id}/photos",
        content=b"--x\r\nnot a form at all" * 1000,
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 404


async def test_an_expired_expert_token_stops_working(world: World, client: httpx.AsyncClient, context: Any):
    assert (await client.get("/api/expert/tickets", headers=world.expert())).status_code == 200
    async with context.sessions() as session:
        await session.execute(
            update(ExpertToken).values(expires_at=context.clock.now() - timedelta(seconds=1))
        )
        await session.commit()
    assert (await client.get("/api/expert/tickets", headers=world.expert())).status_code == 401


async def test_a_deactivated_expert_loses_access(world: World, client: httpx.AsyncClient, context: Any):
    async with context.sessions() as session:
        await session.execute(update(Expert).where(Expert.id == world.expert_id).values(active=False))
        await session.commit()
    for method, path in (
        ("GET", "/api/expert/tickets"),
        ("POST", f"/api/expert/tickets/{world.ticket_id}/claim"),
    ):
        assert (await client.request(method, path, headers=world.expert())).status_code == 401
    refused = await client.post(f"/api/admin/experts/{world.expert_id}/token", headers=ADMIN)
    assert refused.status_code == 409 and "not active" in refused.json()["detail"]


async def test_retries_of_a_lost_answer_get_the_same_ticket(
    world: World, client: httpx.AsyncClient, context: Any
):
    """The 201 carrying the token was lost: retrying gets the same ticket (200) with a token that
    works, and both tokens keep working; the database still holds one ticket for the question."""
    retried = await client.post("/api/tickets", json={"question_id": world.question_id})
    again = await client.post(f"/api/questions/{world.question_id}/feedback", json={"solved": False})
    assert retried.status_code == 200 and again.status_code == 200
    tokens = {world.token, retried.json()["token"], again.json()["ticket"]["token"]}
    assert len(tokens) == 3
    assert {retried.json()["ticket_id"], again.json()["ticket"]["ticket_id"]} == {world.ticket_id}
    for token in tokens:
        got = await client.get(f"/api/tickets/{world.ticket_id}", headers={"X-Ticket-Token": token})
        assert got.status_code == 200
    async with context.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.question_id == world.question_id)
        )
    assert count == 1
