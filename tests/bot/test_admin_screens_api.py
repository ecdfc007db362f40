"""The admin API the going-live screens use: tickets with their holder (the admin queue and
reassigning), login links that revoke the earlier one and carry their QR code, and the
statistics as a CSV file for Excel."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

from sqlalchemy import update

from knowledge.models import Ticket
from knowledge.states import TicketStatus, Tier
from tests.utils.auth import ADMIN

NEW_PROBLEM = "注塑机开模的时候模具有异响，咔咔的响，是顶针板卡了吗"


async def to_admin_queue(context, ticket_id: str) -> None:
    """As the escalation leaves a ticket nobody took: the admin tier, open, no expert."""
    async with context.sessions() as session:
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(tier=Tier.ADMIN, status=TicketStatus.OPEN, expert_id=None, version=Ticket.version + 1)
        )
        await session.commit()


async def test_the_admin_queue_lists_the_holder_and_reassigning_fills_it(client, context):
    opened = (await client.post("/api/tickets", json={"text": NEW_PROBLEM, "site": "xcmg-hv-3"})).json()
    first_expert = opened["expert"]["expert_id"]
    listed = (await client.get("/api/admin/tickets", headers=ADMIN, params={"status": "assigned"})).json()
    mine = next(t for t in listed if t["ticket_id"] == opened["ticket_id"])
    assert mine["expert"]["expert_id"] == first_expert and mine["text"] == NEW_PROBLEM

    await to_admin_queue(context, opened["ticket_id"])
    unfinished = (
        await client.get("/api/admin/tickets", headers=ADMIN, params={"status": ["open", "assigned"]})
    ).json()
    queued = next(t for t in unfinished if t["ticket_id"] == opened["ticket_id"])
    assert queued["tier"] == "admin" and queued["status"] == "open" and queued["expert"] is None
    assert queued["site"]["name"] == "徐工重型 三号车间"
    only_open = (await client.get("/api/admin/tickets", headers=ADMIN, params={"status": "open"})).json()
    assert all(t["status"] == "open" for t in only_open) and opened["ticket_id"] in {
        t["ticket_id"] for t in only_open
    }

    experts = (await client.get("/api/admin/experts", headers=ADMIN)).json()
    other = next(e for e in experts if e["active"] and e["expert_id"] != first_expert)
    assigned = await client.post(
        f"/api/admin/tickets/{opened['ticket_id']}/assign",
        headers=ADMIN,
        json={"expert_id": other["expert_id"]},
    )
    assert assigned.status_code == 200
    body = assigned.json()
    assert body["status"] == "assigned" and body["expert"]["expert_id"] == other["expert_id"]
    assert body["expert"]["name"] == other["name"]
    bad = await client.get("/api/admin/tickets", headers=ADMIN, params={"status": "nonsense"})
    assert bad.status_code == 422


async def test_a_new_login_link_revokes_the_earlier_one_and_carries_its_qr_code(client):
    experts = (await client.get("/api/admin/experts", headers=ADMIN)).json()
    expert_id = next(e["expert_id"] for e in experts if e["active"])
    assert all(e["login_expires_at"] is None for e in experts)

    first = (await client.post(f"/api/admin/experts/{expert_id}/token", headers=ADMIN)).json()
    svg = ElementTree.fromstring(first["qr_svg"])
    assert svg.tag.endswith("svg") and first["token"] not in first["qr_svg"]  # drawn, not written
    listed = {e["expert_id"]: e for e in (await client.get("/api/admin/experts", headers=ADMIN)).json()}
    expires = datetime.fromisoformat(listed[expert_id]["login_expires_at"])
    assert expires > datetime.now(UTC) + timedelta(days=1)
    assert sum(e["login_expires_at"] is not None for e in listed.values()) == 1

    old = {"Authorization": f"Bearer {first['token']}"}
    assert (await client.get("/api/expert/tickets", headers=old)).status_code == 200
    second = (await client.post(f"/api/admin/experts/{expert_id}/token", headers=ADMIN)).json()
    assert second["token"] != first["token"] and second["qr_svg"] != first["qr_svg"]
    assert (await client.get("/api/expert/tickets", headers=old)).status_code == 401
    new = {"Authorization": f"Bearer {second['token']}"}
    assert (await client.get("/api/expert/tickets", headers=new)).status_code == 200


def tables(text: str) -> dict[str, list[list[str]]]:
    """The CSV's tables by their title row (a table ends at an empty row)."""
    found: dict[str, list[list[str]]] = {}
    title = None
    for row in csv.reader(io.StringIO(text)):
        if not row:
            title = None
        elif title is None:
            title = row[0]
            found[title] = []
        else:
            found[title].append(row)
    return found


async def test_the_figures_as_a_csv_excel_opens(client):
    await client.post("/api/tickets", json={"text": NEW_PROBLEM, "site": "xcmg-hv-3"})
    await client.post("/api/ask", json={"text": "变频器加速的时候报Err05", "site": "xk-qishan-belt"})
    figures = (await client.get("/api/admin/stats", headers=ADMIN)).json()

    response = await client.get("/api/admin/stats.csv", headers=ADMIN)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    text = response.content.decode("utf-8-sig")
    assert "\r\n" in text
    found = tables(text)
    totals = dict((row[0], row[1]) for row in found["总计"][1:])
    assert totals["提问总数"] == str(figures["totals"]["questions"]) and int(totals["提问总数"]) >= 2
    assert totals["转师傅工单"] == str(figures["totals"]["tickets"])
    weeks = found["每周（周一至周日）"][1:]
    assert [w[0] for w in weeks] == [w["week"] for w in figures["weekly"]]
    monday, sunday = date_of(weeks[-1][1]), date_of(weeks[-1][2])
    assert monday.isoweekday() == 1 and sunday - monday == timedelta(days=6)
    sites = {row[0]: row for row in found["各车间（站点）"][1:]}
    assert sites["xcmg-hv-3"][1] == "徐工重型 三号车间"

    later = datetime.now(UTC) + timedelta(days=1)
    empty = await client.get(
        "/api/admin/stats.csv",
        headers=ADMIN,
        params={"since": later.isoformat(), "until": (later + timedelta(days=7)).isoformat()},
    )
    empty_totals = dict((row[0], row[1]) for row in tables(empty.content.decode("utf-8-sig"))["总计"][1:])
    assert empty_totals["提问总数"] == "0"
    assert (await client.get("/api/admin/stats.csv")).status_code == 401
    assert (
        await client.get("/api/admin/stats.csv", headers=ADMIN, params={"since": "yesterday"})
    ).status_code == 422


def date_of(text: str):  # type: ignore[no-untyped-def]
    return datetime.strptime(text, "%Y-%m-%d").date()
