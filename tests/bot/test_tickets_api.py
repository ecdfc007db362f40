"""Tickets through the HTTP API with the real model and the demo knowledge (SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.corpus import CASE_VIEWS
from tests.factories import pixels, png_bytes
from tests.utils.auth import ADMIN
from tests.utils.demo import DEMO_CASES, DEMO_EXPERTS

PNG = png_bytes()
NEW_PROBLEM = "注塑机开模的时候模具有异响，咔咔的响，是顶针板卡了吗"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


async def expert_headers(client, expert_id: str) -> dict[str, str]:
    response = await client.post(f"/api/admin/experts/{expert_id}/token", headers=ADMIN)
    assert response.status_code == 201
    body = response.json()
    assert body["login_url"].endswith(f"/expert#token={body['token']}")
    return {"Authorization": f"Bearer {body['token']}"}


async def test_worker_expert_admin_round_trip(client):
    asked = (await client.post("/api/ask", json={"text": NEW_PROBLEM, "site": "xcmg-hv-3"})).json()
    assert asked["decision"] == "route"
    feedback = await client.post(
        f"/api/questions/{asked['question_id']}/feedback", json={"solved": False, "case_id": None}
    )
    assert feedback.status_code == 200
    ticket = feedback.json()["ticket"]
    worker = {"X-Ticket-Token": ticket["token"]}
    expert_id = ticket["expert"]["expert_id"]
    assert ticket["status"] == "assigned" and ticket["expert"]["name"]

    expert = await expert_headers(client, expert_id)
    queue = (await client.get("/api/expert/tickets", headers=expert)).json()
    assert [t["ticket_id"] for t in queue] == [ticket["ticket_id"]]
    assert queue[0]["site"]["code"] == "xcmg-hv-3" and "token" not in queue[0]
    tid = ticket["ticket_id"]
    assert (await client.post(f"/api/expert/tickets/{tid}/claim", headers=expert)).status_code == 200
    answered = await client.post(
        f"/api/expert/tickets/{tid}/answer",
        headers=expert,
        json={"text": "先检查顶针板导柱润滑，再查顶出行程和复位弹簧。"},
    )
    assert answered.status_code == 201

    seen = (await client.get(f"/api/tickets/{tid}", headers=worker)).json()
    assert seen["status"] == "answered"
    assert [m["author"] for m in seen["messages"]] == ["worker", "expert"]
    photo = await client.post(
        f"/api/tickets/{tid}/photos",
        headers=worker,
        files={"photo": ("x.png", PNG, "image/png")},
        data={"text": "这是顶针板"},
    )
    assert photo.status_code == 201
    got = await client.get(photo.json()["photo_url"], headers=worker)
    assert (
        got.status_code == 200
        and pixels(got.content) == pixels(PNG)
        and got.headers["content-type"] == "image/png"
    )
    assert (await client.get(f"/api/tickets/{tid}", headers=worker)).json()["status"] == "assigned"
    await client.post(
        f"/api/expert/tickets/{tid}/answer", headers=expert, json={"text": "顶针板导柱换新即可。"}
    )
    closed = await client.post(f"/api/tickets/{tid}/close", headers=worker, json={"rating": 5})
    assert closed.status_code == 200 and closed.json()["rating"] == 5

    candidates = (await client.get("/api/admin/candidates", headers=ADMIN)).json()
    assert [c["ticket_id"] for c in candidates] == [tid]
    assert "顶针板导柱" in candidates[0]["answer"]
    assert candidates[0]["expert_name"] == ticket["expert"]["name"]
    assert candidates[0]["site_name"] == "徐工重型 三号车间"
    published = await client.post(
        f"/api/admin/candidates/{tid}/publish",
        headers=ADMIN,
        json={
            "title": "注塑机开模异响（顶针板导柱缺润滑）",
            "question": "注塑机开模时模具咔咔异响，顶针板动作发卡",
            "answer": "检查顶针板导柱润滑，查顶出行程和复位弹簧，导柱磨损则更换。",
        },
    )
    assert published.status_code == 201
    case_id = published.json()["case_id"]
    assert (await client.get("/api/admin/candidates", headers=ADMIN)).json() == []

    again = (await client.post("/api/ask", json={"text": "注塑机开模咔咔响 顶针板发卡咋办"})).json()
    assert again["suggestions"][0]["case_id"] == case_id
    assert again["suggestions"][0]["solved_by"] == ticket["expert"]["name"]  # "赵磊师傅解答"
    health = (await client.get("/healthz")).json()
    assert health["cases"] == 83 and health["index_version"] == again["index_version"]

    stats = (await client.get("/api/admin/stats", headers=ADMIN)).json()
    assert stats["totals"]["tickets_closed"] == 1 and stats["totals"]["rating_average"] == 5.0


async def test_ticket_straight_from_text_and_solved_feedback(client):
    opened = await client.post("/api/tickets", json={"text": NEW_PROBLEM, "site": "xcmg-hv-3"})
    assert opened.status_code == 201 and opened.json()["token"]
    asked = (await client.post("/api/ask", json={"text": "数控车床开机报SV0401"})).json()
    solved = await client.post(
        f"/api/questions/{asked['question_id']}/feedback", json={"solved": True, "case_id": "K001"}
    )
    assert solved.status_code == 200 and solved.json()["ticket"] is None
    unknown = await client.post(
        f"/api/questions/{asked['question_id']}/feedback", json={"solved": True, "case_id": "K999"}
    )
    assert unknown.status_code == 422 and "K999" in unknown.json()["detail"]
    assert (await client.post("/api/tickets", json={})).status_code == 422
    missing = await client.post("/api/tickets", json={"question_id": "nope"})
    assert missing.status_code == 404


async def test_roles_and_tokens_are_checked_on_every_call(client):
    opened = (await client.post("/api/tickets", json={"text": NEW_PROBLEM})).json()
    tid, owner = opened["ticket_id"], opened["expert"]["expert_id"]
    other = next(e for e in ("E01", "E02", "E03") if e != owner)
    owner_h, other_h = await expert_headers(client, owner), await expert_headers(client, other)

    for headers in ({}, {"X-Ticket-Token": "guess"}):
        assert (await client.get(f"/api/tickets/{tid}", headers=headers)).status_code == 404
    assert (
        await client.get("/api/tickets/nope", headers={"X-Ticket-Token": opened["token"]})
    ).status_code == 404

    assert (await client.get("/api/expert/tickets")).status_code == 401
    assert (
        await client.get("/api/expert/tickets", headers={"Authorization": "Bearer nope"})
    ).status_code == 401
    assert (await client.get("/api/expert/tickets", headers=ADMIN)).status_code == 403
    assert (await client.get("/api/admin/stats")).status_code == 401
    assert (await client.get("/api/admin/stats", headers=owner_h)).status_code == 403
    assert (await client.post("/api/admin/reindex", headers=owner_h)).status_code == 403

    assert (await client.get(f"/api/expert/tickets/{tid}", headers=other_h)).status_code == 403
    assert (
        await client.post(f"/api/expert/tickets/{tid}/answer", headers=other_h, json={"text": "x"})
    ).status_code == 403
    assert (await client.post(f"/api/expert/tickets/{tid}/claim", headers=other_h)).status_code == 409
    assert (await client.post(f"/api/expert/tickets/{tid}/claim", headers=owner_h)).status_code == 200

    reissued = await expert_headers(client, owner)  # a new token replaces the old one
    assert (await client.get("/api/expert/tickets", headers=owner_h)).status_code == 401
    assert (await client.get("/api/expert/tickets", headers=reissued)).status_code == 200


async def test_bad_photos_are_refused_by_content(client):
    opened = (await client.post("/api/tickets", json={"text": NEW_PROBLEM})).json()
    worker = {"X-Ticket-Token": opened["token"]}
    url = f"/api/tickets/{opened['ticket_id']}/photos"
    fake = await client.post(
        url, headers=worker, files={"photo": ("a.png", b"<script>x</script>", "image/png")}
    )
    assert fake.status_code == 422 and "JPEG, PNG or WebP" in fake.json()["detail"]
    big = await client.post(
        url,
        headers=worker,
        files={"photo": ("a.jpg", b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024), "image/jpeg")},
    )
    assert big.status_code == 422 and "10 MB" in big.json()["detail"]
    seen = (await client.get(f"/api/tickets/{opened['ticket_id']}", headers=worker)).json()
    assert len(seen["messages"]) == 1


async def test_admin_reindex_qr_and_queue(client, context):
    started = await client.post("/api/admin/reindex", headers=ADMIN)
    assert started.status_code == 202 and started.json()["state"] == "running"
    state = await context.reindexer.wait()
    texts = len(CASE_VIEWS) * DEMO_CASES + DEMO_EXPERTS  # every view of every demo case, every expert profile
    assert state.state == "done" and state.done == state.total == texts
    assert (await client.get("/healthz")).json()["index_version"] == state.version
    intranet = {"intranet": "true"}  # the test app's public URL is 127.0.0.1 (see test_go_live.py)
    png = await client.get("/api/admin/sites/xcmg-hv-3/qr.png", headers=ADMIN, params=intranet)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    svg = await client.get("/api/admin/sites/xcmg-hv-3/qr.svg", headers=ADMIN, params=intranet)
    assert svg.status_code == 200 and b"<svg" in svg.content
    assert (await client.get("/api/admin/sites/nope/qr.png", headers=ADMIN)).status_code == 404


async def test_anonymous_calls_are_rate_limited(context):
    from tests.utils.http import budget, client_from

    limits = context.limits | {"ask": budget("ask", 2)}  # as CRAFTDESK_RATE_LIMIT__ASK_PER_MINUTE=2 would
    async with client_from(context, "127.0.0.1", limits) as client:
        codes = [(await client.post("/api/ask", json={"text": "车床报警"})).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        limited = await client.post("/api/ask", json={"text": "车床报警"})
    assert int(limited.headers["Retry-After"]) >= 1 and "too many requests" in limited.json()["detail"]


async def test_a_proposed_case_is_confirmed_with_one_tap(client, context):
    """A ticket proposing a case (decision confirm): the worker sees the case as pending, the
    expert confirms it through the API, and the worker's ticket then holds it as the answer."""
    import uuid

    from knowledge.models import Question

    qid = uuid.uuid4().hex
    async with context.sessions() as session:
        question = Question(
            id=qid,
            text="挖掘机大臂自己慢慢往下落",
            decision="confirm",
            expert_ids=["E05"],
            top_case_id="K004",
        )
        session.add(question)
        opened = await context.tickets.open_new(session, question, "web", None, proposed_case_id="K004")
        await session.commit()
    tid, worker = opened.ticket.id, {"X-Ticket-Token": opened.token}
    seen = (await client.get(f"/api/tickets/{tid}", headers=worker)).json()
    assert seen["proposed_case"]["case_id"] == "K004" and seen["proposed_case"]["state"] == "pending"
    expert = await expert_headers(client, opened.ticket.expert_id)
    view = (await client.get(f"/api/expert/tickets/{tid}", headers=expert)).json()
    assert view["proposed_case"]["title"] and view["proposed_case"]["state"] == "pending"
    confirmed = await client.post(
        f"/api/expert/tickets/{tid}/confirm", headers=expert, json={"correct": True}
    )
    assert confirmed.status_code == 200 and confirmed.json()["proposed_case"]["state"] == "confirmed"
    again = await client.post(f"/api/expert/tickets/{tid}/confirm", headers=expert, json={"correct": False})
    assert again.status_code == 409
    seen = (await client.get(f"/api/tickets/{tid}", headers=worker)).json()
    assert seen["status"] == "answered" and seen["proposed_case"]["state"] == "confirmed"
    assert (
        seen["messages"][-1]["author"] == "expert"
        and seen["proposed_case"]["title"] in seen["messages"][-1]["text"]
    )
    learnt = (await client.get("/api/admin/learning", headers=ADMIN)).json()
    assert learnt["labels"] == {"expert": {"yes": 1, "no": 0}}
    assert learnt["calibration"]["confirm_threshold"] <= learnt["calibration"]["suggest_threshold"]
    assert (await client.get("/api/admin/learning", headers=expert)).status_code == 403


async def test_the_worker_reads_the_real_stage_and_rates_only_an_answer(client):
    """waiting (assigned, not yet claimed) -> handling (claimed) -> answered -> closed with a
    rating; a rating before any answer is refused (409); the typical wait once there is data."""
    opened = (await client.post("/api/tickets", json={"text": NEW_PROBLEM, "site": "xcmg-hv-3"})).json()
    tid, worker = opened["ticket_id"], {"X-Ticket-Token": opened["token"]}
    url = f"/api/tickets/{tid}"
    seen = (await client.get(url, headers=worker)).json()
    assert (seen["status"], seen["stage"], seen["claimed"], seen["has_answer"]) == (
        "assigned",
        "waiting",
        False,
        False,
    )
    assert seen["typical_wait_minutes"] is None  # nothing answered yet on this desk
    early = await client.post(f"{url}/close", headers=worker, json={"rating": 5})
    assert early.status_code == 409 and "nothing to rate yet" in early.json()["detail"]

    expert = await expert_headers(client, opened["expert"]["expert_id"])
    assert (await client.post(f"/api/expert/tickets/{tid}/claim", headers=expert)).status_code == 200
    seen = (await client.get(url, headers=worker)).json()
    assert (seen["stage"], seen["claimed"]) == ("handling", True)
    await client.post(f"/api/expert/tickets/{tid}/answer", headers=expert, json={"text": "先查顶针板导柱。"})
    seen = (await client.get(url, headers=worker)).json()
    assert (seen["stage"], seen["has_answer"]) == ("answered", True)
    assert seen["typical_wait_minutes"] == 1  # answered within seconds: at least a minute is said
    await client.post(f"{url}/messages", headers=worker, json={"text": "还是响"})
    seen = (await client.get(url, headers=worker)).json()
    assert (seen["status"], seen["stage"], seen["has_answer"]) == ("assigned", "handling", True)

    closed = await client.post(f"{url}/close", headers=worker, json={"rating": 4})
    assert closed.status_code == 200
    assert (closed.json()["stage"], closed.json()["rating"]) == ("closed", 4)


async def test_a_passed_on_question_and_a_withdrawn_one(client):
    opened = (await client.post("/api/tickets", json={"text": NEW_PROBLEM, "site": "xcmg-hv-3"})).json()
    tid, worker = opened["ticket_id"], {"X-Ticket-Token": opened["token"]}
    first = opened["expert"]["expert_id"]
    expert = await expert_headers(client, first)
    assert (await client.post(f"/api/expert/tickets/{tid}/decline", headers=expert)).status_code == 200
    seen = (await client.get(f"/api/tickets/{tid}", headers=worker)).json()
    assert seen["stage"] == "passed_on" and not seen["claimed"]
    assert seen["expert"] is None or seen["expert"]["expert_id"] != first

    withdrawn = await client.post(f"/api/tickets/{tid}/close", headers=worker, json={"rating": None})
    assert withdrawn.status_code == 200
    body = withdrawn.json()
    assert (body["status"], body["stage"], body["rating"], body["has_answer"]) == (
        "closed",
        "closed",
        None,
        False,
    )
    again = await client.post(f"/api/tickets/{tid}/close", headers=worker, json={"rating": None})
    assert again.status_code == 409
