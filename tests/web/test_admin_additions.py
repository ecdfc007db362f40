"""The API calls the pages added: sites, experts with load, the QR sheet, similar cases."""

from __future__ import annotations

import math

from tests.utils.auth import ADMIN
from tests.utils.demo import DEMO_EXPERTS, DEMO_SITES

NEW_PROBLEM = "注塑机开模的时候模具有异响，咔咔的响，是顶针板卡了吗"


async def test_sites_and_experts_lists(client):
    sites = (await client.get("/api/admin/sites", headers=ADMIN)).json()
    assert len(sites) == DEMO_SITES
    first = next(s for s in sites if s["code"] == "xcmg-hv-3")
    assert first["name"] == "徐工重型 三号车间" and first["url"] == "http://127.0.0.1:8000/c/xcmg-hv-3"

    opened = (await client.post("/api/tickets", json={"text": NEW_PROBLEM, "site": "xcmg-hv-3"})).json()
    experts = (await client.get("/api/admin/experts", headers=ADMIN)).json()
    assert len(experts) == DEMO_EXPERTS
    load = {e["expert_id"]: e["open_tickets"] for e in experts}
    assert load[opened["expert"]["expert_id"]] == 1 and sum(load.values()) == 1
    assert all(e["max_open_tickets"] >= 1 and "name" in e for e in experts)

    for path in ("/api/admin/sites", "/api/admin/experts", "/api/admin/qr-sheet.pdf"):
        assert (await client.get(path)).status_code == 401


async def test_qr_sheet_download(client):
    sheet = await client.get(
        "/api/admin/qr-sheet.pdf",
        headers=ADMIN,
        # the test app's public URL is 127.0.0.1: confirmed as an intranet's (tests/bot/test_go_live.py)
        params={"site": ["xcmg-hv-3", "xk-qishan-belt"], "bot": "@craftdesk_bot", "intranet": "true"},
    )
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "application/pdf"
    assert sheet.content.startswith(b"%PDF") and b"/Count 1" in sheet.content
    everything = await client.get("/api/admin/qr-sheet.pdf", headers=ADMIN, params={"intranet": "true"})
    assert f"/Count {math.ceil(DEMO_SITES / 4)}".encode() in everything.content  # four cards a page
    missing = await client.get("/api/admin/qr-sheet.pdf", headers=ADMIN, params={"site": "nope"})
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


async def test_similar_cases_for_the_expert(client, context):
    opened = (await client.post("/api/tickets", json={"text": "变频器加速的时候报Err05"})).json()
    expert_id = opened["expert"]["expert_id"]
    token = (await client.post(f"/api/admin/experts/{expert_id}/token", headers=ADMIN)).json()["token"]
    similar = await client.get(
        f"/api/expert/tickets/{opened['ticket_id']}/similar", headers={"Authorization": f"Bearer {token}"}
    )
    assert similar.status_code == 200
    cases = similar.json()
    assert cases[0]["case_id"] == "K010" and 1 <= len(cases) <= 5
    assert cases == sorted(cases, key=lambda c: -c["score"])
    _, floor, _ = context.retriever.thresholds()
    assert all(c["score"] >= round(floor, 4) for c in cases)


async def test_similar_cases_below_the_confirm_floor_are_not_listed(client, context):
    """A question the knowledge base holds nothing for lists fewer than five cases (without the
    floor it would list five unrelated ones), each plausible."""
    opened = (await client.post("/api/tickets", json={"text": "食堂的饭菜太咸了 能不能少放点盐"})).json()
    expert_id = opened["expert"]["expert_id"]
    token = (await client.post(f"/api/admin/experts/{expert_id}/token", headers=ADMIN)).json()["token"]
    listed = (
        await client.get(
            f"/api/expert/tickets/{opened['ticket_id']}/similar", headers={"Authorization": f"Bearer {token}"}
        )
    ).json()
    _, floor, _ = context.retriever.thresholds()
    assert len(listed) < 5 and all(c["score"] >= round(floor, 4) for c in listed)
    assert (
        await client.get(f"/api/expert/tickets/{opened['ticket_id']}/similar", headers=ADMIN)
    ).status_code == 403
