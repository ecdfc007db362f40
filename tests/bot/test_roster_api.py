"""The roster on /admin: experts and sites added, edited and deactivated one at a time, with an
import file's checks; answers discarded as case candidates; every admin route refuses callers
without the admin token."""

from __future__ import annotations

import pytest

from bot.app import create_app
from tests.utils.auth import ADMIN
from tests.utils.http import client_from

# one database for the route walk (who may call is decided before any query) and for the two
# full index rebuilds with the real model (the slow part, not the database's)
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

MOTOR = {
    "name": "刘卫东",
    "title": "高级技师",
    "org": "邳州某电机有限公司",
    "region": "邳州市",
    "industries": ["工程机械与智能制造"],
    "skills": ["绕线机张力调整", "电机绕组嵌线"],
    "max_open_tickets": 4,
}
NEW_PROBLEM = "注塑机开模的时候模具有异响，咔咔的响，是顶针板卡了吗"


@SQLITE_ONLY
async def test_an_expert_is_added_edited_and_ranked_after_the_rebuild(client, context):
    added = await client.put("/api/admin/experts/E90", headers=ADMIN, json=MOTOR)
    assert added.status_code == 201, added.text
    assert added.json()["outcome"] == "created" and added.json()["reindex"]["state"] == "running"
    stored = (await client.get("/api/admin/experts/E90", headers=ADMIN)).json()
    assert stored == {"id": "E90", **MOTOR, "active": True, "team_ids": []}
    listed = {e["expert_id"]: e for e in (await client.get("/api/admin/experts", headers=ADMIN)).json()}
    assert listed["E90"]["name"] == "刘卫东" and listed["E90"]["max_open_tickets"] == 4

    await context.reindexer.wait()
    index = context.index.current
    assert "E90" in [e.id for e in index.experts]

    same = await client.put("/api/admin/experts/E90", headers=ADMIN, json={"id": "E90", **MOTOR})
    assert same.status_code == 200 and same.json() == {
        "outcome": "unchanged",
        "released_tickets": 0,
        "reindex": None,
    }
    capacity_only = await client.put(
        "/api/admin/experts/E90", headers=ADMIN, json=MOTOR | {"max_open_tickets": 2}
    )
    assert (
        capacity_only.json()["outcome"] == "updated" and capacity_only.json()["reindex"] is None
    )  # read live
    skills = await client.put(
        "/api/admin/experts/E90", headers=ADMIN, json=MOTOR | {"skills": ["电机轴承更换"]}
    )
    assert skills.json()["reindex"] is not None  # the profile is in the index
    await context.reindexer.wait()
    assert next(e for e in context.index.current.experts if e.id == "E90").skills == ("电机轴承更换",)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({**MOTOR, "skills": []}, "skills"),
        ({**MOTOR, "max_open_tickets": "3"}, "max_open_tickets"),
        ({k: v for k, v in MOTOR.items() if k != "name"}, "name"),
        ({**MOTOR, "id": "E91"}, "id"),
    ],
)
async def test_a_bad_expert_is_refused_with_the_field_and_nothing_is_saved(client, body, where):
    before = (await client.get("/api/admin/experts/E22", headers=ADMIN)).json()
    refused = await client.put("/api/admin/experts/E22", headers=ADMIN, json=body)
    assert refused.status_code == 422
    assert f"field '{where}'" in refused.json()["detail"]
    assert (await client.get("/api/admin/experts/E22", headers=ADMIN)).json() == before
    assert (await client.get("/api/admin/experts/E404", headers=ADMIN)).status_code == 404


async def test_deactivating_an_expert_passes_their_tickets_on_and_ends_their_login(client):
    opened = (await client.post("/api/tickets", json={"text": NEW_PROBLEM, "site": "xcmg-hv-3"})).json()
    holder = opened["expert"]["expert_id"]
    login = (await client.post(f"/api/admin/experts/{holder}/token", headers=ADMIN)).json()
    expert = {"Authorization": f"Bearer {login['token']}"}
    assert (await client.get("/api/expert/tickets", headers=expert)).status_code == 200

    record = (await client.get(f"/api/admin/experts/{holder}", headers=ADMIN)).json()
    saved = await client.put(f"/api/admin/experts/{holder}", headers=ADMIN, json=record | {"active": False})
    assert saved.status_code == 200 and saved.json()["released_tickets"] == 1
    assert saved.json()["reindex"] is None
    assert (await client.get("/api/expert/tickets", headers=expert)).status_code == 401
    worker = {"X-Ticket-Token": opened["token"]}
    ticket = (await client.get(f"/api/tickets/{opened['ticket_id']}", headers=worker)).json()
    assert ticket["expert"] is None or ticket["expert"]["expert_id"] != holder
    listed = {e["expert_id"]: e for e in (await client.get("/api/admin/experts", headers=ADMIN)).json()}
    assert listed[holder]["active"] is False and listed[holder]["open_tickets"] == 0


async def test_a_deactivated_site_opens_a_notice_and_is_left_off_the_sheet(client):
    record = (await client.get("/api/admin/sites/pz-motor-1", headers=ADMIN)).json()
    assert record["active"] is True and record["org"] == "邳州某电机有限公司"
    off = await client.put("/api/admin/sites/pz-motor-1", headers=ADMIN, json=record | {"active": False})
    assert off.status_code == 200 and off.json()["outcome"] == "updated"

    page = await client.get("/c/pz-motor-1")
    assert page.status_code == 404 and "这个二维码已停用" in page.text
    asked = await client.post("/api/ask", json={"text": "绕线机张力不稳", "site": "pz-motor-1"})
    assert asked.status_code == 422 and "no longer in service" in asked.json()["detail"]
    sites = {s["code"]: s for s in (await client.get("/api/admin/sites", headers=ADMIN)).json()}
    assert sites["pz-motor-1"]["active"] is False
    sheet = await client.get("/api/admin/qr-sheet.pdf", headers=ADMIN, params={"site": "pz-motor-1"})
    assert sheet.status_code == 409 and "deactivated" in sheet.json()["detail"]

    on = await client.put("/api/admin/sites/pz-motor-1", headers=ADMIN, json=record)
    assert on.status_code == 200 and (await client.get("/c/pz-motor-1")).status_code == 200

    new_site = {"name": "邳州某电机 二车间", "org": "邳州某电机有限公司", "region": "邳州市"}
    added = await client.put("/api/admin/sites/pz-motor-2", headers=ADMIN, json=new_site)
    assert added.status_code == 201 and (await client.get("/c/pz-motor-2")).status_code == 200
    bad = await client.put("/api/admin/sites/PZ_2", headers=ADMIN, json=new_site)
    assert bad.status_code == 422 and "field 'code'" in bad.json()["detail"]


async def test_a_discarded_answer_leaves_the_candidates(client):
    opened = (await client.post("/api/tickets", json={"text": NEW_PROBLEM, "site": "xcmg-hv-3"})).json()
    tid = opened["ticket_id"]
    assert (await client.post(f"/api/admin/candidates/{tid}/discard", headers=ADMIN)).status_code == 409
    login = (
        await client.post(f"/api/admin/experts/{opened['expert']['expert_id']}/token", headers=ADMIN)
    ).json()
    expert = {"Authorization": f"Bearer {login['token']}"}
    await client.post(f"/api/expert/tickets/{tid}/answer", headers=expert, json={"text": "换顶针板导柱。"})
    assert [c["ticket_id"] for c in (await client.get("/api/admin/candidates", headers=ADMIN)).json()] == [
        tid
    ]

    assert (await client.post(f"/api/admin/candidates/{tid}/discard", headers=ADMIN)).status_code == 204
    assert (await client.get("/api/admin/candidates", headers=ADMIN)).json() == []
    assert (await client.post("/api/admin/candidates/nope/discard", headers=ADMIN)).status_code == 404


@SQLITE_ONLY
async def test_every_admin_route_refuses_a_caller_without_the_admin_token(client, context):
    """Walks the app's routes, so a route added later is checked too."""
    login = (await client.post("/api/admin/experts/E06/token", headers=ADMIN)).json()
    callers = {"no token": {}, "wrong token": {"Authorization": "Bearer " + "x" * 30}}
    callers["an expert's token"] = {"Authorization": f"Bearer {login['token']}"}
    app = create_app(context.settings, context)
    paths = app.openapi()["paths"]
    routes = [
        (method.upper(), path) for path, item in paths.items() for method in item if "/api/admin/" in path
    ]
    assert len(routes) >= 20
    for number, (method, route) in enumerate(routes):
        path = route.replace("{", "").replace("}", "")  # any value: refused before it is read
        for who, headers in callers.items():
            # each call from its own address: the failed-login throttle (429) would hide the answer
            async with client_from(context, f"10.9.{number}.{len(who)}", app=app) as caller:
                response = await caller.request(method, path, headers=headers, json={})
            assert response.status_code in (401, 403), f"{method} {route} with {who}: {response.status_code}"
