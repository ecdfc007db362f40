"""Stewards: an account scoped to service stations or regions. On every admin route a steward of
another scope gets 403, or (the lists) sees nothing of that scope; within their own scope they
see and act on tickets, candidates, stats and QR sheets."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bot.app import create_app
from knowledge.models import Site, Station
from tests.utils.auth import ADMIN
from tests.utils.http import client_from

# the route walk on one database: who may call is decided before any query (the scoped queries run
# on both in the other tests of this file)
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
NEW_PROBLEM = "注塑机开模的时候模具有异响，咔咔的响，是顶针板卡了吗"
# the lists a steward may read, narrowed to their scope; every other admin route is the admin's
SCOPED_LISTS = {
    "/api/admin/me",
    "/api/admin/stats",
    "/api/admin/stats.csv",
    "/api/admin/candidates",
    "/api/admin/experts",
    "/api/admin/tickets",
    "/api/admin/sites",
    "/api/admin/public-url",
    "/api/admin/qr-sheet.pdf",
    "/api/admin/stations",
    "/api/admin/import/template.xlsx",
    "/api/admin/needs",
    "/api/admin/need-forms",
    "/api/admin/report",
    "/api/admin/report.xlsx",
    "/api/admin/report.pdf",
    "/api/admin/classes",
}


@pytest.fixture
async def scoped(client, context) -> dict:
    """Two stations: 邳州 (pz-*) for steward wang, 铜山 by region for steward li; an answered
    ticket in each scope."""
    async with context.sessions() as session:
        session.add_all(
            [Station(id="pz", name="邳州服务站", region="邳州市"), Station(id="ts", name="铜山服务站")]
        )
        await session.flush()
        await session.execute(update(Site).where(Site.code.like("pz-%")).values(station="pz"))
        await session.commit()
    tokens = {}
    for steward, body in {
        "wang": {"name": "王管家", "station_ids": ["pz"]},
        "li": {"name": "李管家", "regions": ["铜山区"]},
    }.items():
        assert (
            await client.put(f"/api/admin/stewards/{steward}", headers=ADMIN, json=body)
        ).status_code == 201
        login = (await client.post(f"/api/admin/stewards/{steward}/token", headers=ADMIN)).json()
        assert login["login_url"].endswith(f"/admin#token={login['token']}")
        tokens[steward] = {"Authorization": f"Bearer {login['token']}"}
    tickets = {}
    for steward, site in (("wang", "pz-motor-1"), ("li", "ts-auto-stamp")):
        opened = (await client.post("/api/tickets", json={"text": NEW_PROBLEM, "site": site})).json()
        expert = (
            await client.post(f"/api/admin/experts/{opened['expert']['expert_id']}/token", headers=ADMIN)
        ).json()
        answered = await client.post(
            f"/api/expert/tickets/{opened['ticket_id']}/answer",
            headers={"Authorization": f"Bearer {expert['token']}"},
            json={"text": "查顶针板导柱润滑。"},
        )
        assert answered.status_code == 201
        tickets[steward] = opened["ticket_id"]
    return {"tokens": tokens, "tickets": tickets}


async def test_a_steward_sees_and_acts_on_their_own_scope(client, scoped):
    wang = scoped["tokens"]["wang"]
    me = (await client.get("/api/admin/me", headers=wang)).json()
    assert me["role"] == "steward" and me["station_ids"] == ["pz"]
    assert set(me["sites"]) == {"pz-motor-1", "pz-port-yard"}
    sites = [s["code"] for s in (await client.get("/api/admin/sites", headers=wang)).json()]
    assert sites == ["pz-motor-1", "pz-port-yard"]
    listed = [t["ticket_id"] for t in (await client.get("/api/admin/tickets", headers=wang)).json()]
    assert listed == [scoped["tickets"]["wang"]]
    stats = (await client.get("/api/admin/stats", headers=wang)).json()
    assert {s["key"] for s in stats["by_site"]} == {"pz-motor-1"} and stats["totals"]["tickets"] == 1
    everyone = (await client.get("/api/admin/stats", headers=ADMIN)).json()
    assert everyone["totals"]["tickets"] == 2

    mine = scoped["tickets"]["wang"]
    assert [c["ticket_id"] for c in (await client.get("/api/admin/candidates", headers=wang)).json()] == [
        mine
    ]
    published = await client.post(
        f"/api/admin/candidates/{mine}/publish",
        headers=wang,
        json={"title": "注塑机开模异响", "question": NEW_PROBLEM, "answer": "查顶针板导柱润滑。"},
    )
    assert published.status_code == 201
    reassigned = await client.post(
        f"/api/admin/tickets/{mine}/assign", headers=wang, json={"expert_id": "E22"}
    )
    assert reassigned.status_code == 200 and reassigned.json()["expert"]["expert_id"] == "E22"
    qr = await client.get("/api/admin/sites/pz-motor-1/qr.svg", headers=wang, params={"intranet": "true"})
    assert qr.status_code == 200
    assert (await client.get("/api/admin/stats.csv", headers=wang)).status_code == 200


@SQLITE_ONLY
async def test_every_admin_route_refuses_a_steward_of_another_scope(client, context, scoped):
    """Walks the app's routes, so a route added later is checked too."""
    li_ticket, li_site = scoped["tickets"]["li"], "ts-auto-stamp"
    need = {"station_id": "ts", "region": "铜山区", "enterprise": "铜山某厂", "contact_name": "刘"}
    need |= {"contact_phone": "13805160001", "problem": "冲压机异响", "help_wanted": ["onsite"]}
    li_need = (await client.post("/api/needs", json=need)).json()["need_id"]
    values = {
        "need_id": li_need,
        "station_id": "ts",
        "name": "x.png",
        "ticket_id": li_ticket,
        "code": li_site,
        "expert_id": "E10",
        "steward_id": "li",
        "event_id": "1",
        "class_id": "C02",  # the demo's 铜山区 class: li's
    }
    bodies = {
        "publish": {"title": "t", "question": "q", "answer": "a"},
        "assign": {"expert_id": "E10"},
        "stewards": {"name": "x", "regions": ["铜山区"]},
        "match": {"expert_ids": ["E10"]},
        "schedule": {"help_mode": "onsite", "help_at": "2026-11-12T09:30:00+08:00", "help_place": "x"},
        "done": {"outcome": "solved_onsite", "workers_helped": 1},
        "attendance": {"present": []},
    }
    app = create_app(context.settings, context)
    paths = app.openapi()["paths"]
    routes = [(m.upper(), p) for p, item in paths.items() for m in item if p.startswith("/api/admin/")]
    assert len(routes) >= 25
    for number, (method, route) in enumerate(routes):
        path = route.format(**values)
        body = next((b for key, b in bodies.items() if key in route), {})
        send: dict = {"json": body}
        if route == "/api/admin/import":  # a site of the other scope, as a steward's upload
            send = {
                "files": {"file": ("sites.csv", f"code,name,region\n{li_site},冲压车间,铜山区\n".encode())}
            }
        # each from its own address: no shared failed-login budget
        async with client_from(context, f"10.8.{number}.1", app=app) as caller:
            response = await caller.request(
                method,
                path,
                headers=scoped["tokens"]["wang"],
                params={"intranet": "true", "dry_run": "false"},
                **send,
            )
        if route in SCOPED_LISTS:
            assert response.status_code == 200, (
                f"{method} {route}: {response.status_code} {response.text[:200]}"
            )
            assert li_ticket not in response.text and li_site not in response.text, f"{method} {route} leaks"
        else:
            assert response.status_code == 403, (
                f"{method} {route}: {response.status_code} {response.text[:200]}"
            )
    sheet = await client.get(
        "/api/admin/qr-sheet.pdf", headers=scoped["tokens"]["wang"], params={"site": li_site}
    )
    assert sheet.status_code == 403


async def test_stewards_are_managed_by_the_admin_only_and_end_with_deactivation(client, scoped):
    wang = scoped["tokens"]["wang"]
    listed = {s["steward_id"]: s for s in (await client.get("/api/admin/stewards", headers=ADMIN)).json()}
    assert listed["wang"]["station_ids"] == ["pz"] and listed["wang"]["login_expires_at"]
    unknown = await client.put(
        "/api/admin/stewards/zhao", headers=ADMIN, json={"name": "赵", "station_ids": ["nope"]}
    )
    assert unknown.status_code == 422 and "no station with id 'nope'" in unknown.json()["detail"]
    nothing = await client.put("/api/admin/stewards/zhao", headers=ADMIN, json={"name": "赵"})
    assert nothing.status_code == 422 and "at least one station or region" in nothing.json()["detail"]
    off = await client.put(
        "/api/admin/stewards/wang",
        headers=ADMIN,
        json={"name": "王管家", "station_ids": ["pz"], "active": False},
    )
    assert off.status_code == 200
    assert (await client.get("/api/admin/me", headers=wang)).status_code == 401
    # a steward token is no expert token either way
    assert (await client.get("/api/expert/tickets", headers=scoped["tokens"]["li"])).status_code == 403


async def test_a_steward_imports_the_sites_of_their_own_station_only(client, scoped):
    wang = scoped["tokens"]["wang"]

    async def upload(text: str):  # type: ignore[no-untyped-def]
        files = {"file": ("sites.csv", text.encode())}
        return await client.post("/api/admin/import", headers=wang, params={"dry_run": "false"}, files=files)

    mine = await upload("code,name,region,station\npz-motor-2,邳州某电机 二车间,邳州市,pz\n")
    assert mine.status_code == 200 and mine.json()["created"]["sites"] == 1
    assert mine.json()["reindex"] is None  # sites are not in the search index: nothing to rebuild
    assert "pz-motor-2" in (await client.get("/api/admin/me", headers=wang)).json()["sites"]
    moved = await upload("code,name,region,station\nts-auto-stamp,铜山某汽车零部件 冲压车间,铜山区,pz\n")
    assert moved.status_code == 403 and "ts-auto-stamp" in moved.json()["detail"]  # not theirs to take
    experts = await client.post(
        "/api/admin/import",
        headers=wang,
        files={"file": ("experts.csv", "id,name,skills\nE77,张三,电机维修\n".encode())},
    )
    assert experts.status_code == 403 and "sites only" in experts.json()["detail"]
