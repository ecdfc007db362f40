"""The needs-list API by role: the filer with the token the form gave (and nobody without it),
the station's steward (another station's steward gets 403), a matched expert (an unmatched one
finds nothing) and the admin; the form links with their QR codes; a solved need published."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.models import Case
from tests.factories import png_bytes
from tests.utils.auth import ADMIN

PROBLEM = "冲压线的压力机滑块下行时偶尔停一下，模具上有磕碰痕迹，查了两周找不到原因"
FORM = {
    "station_id": "st-tongshan",
    "enterprise": "铜山某汽车零部件有限公司",
    "contact_name": "刘主席",
    "contact_phone": "138 0516 0009",
    "industry": "汽车零部件",
    "problem": PROBLEM,
    "urgency": "urgent",
    "help_wanted": ["onsite"],
    "workers_affected": 60,
}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


async def bearer(client, path: str) -> dict:  # type: ignore[no-untyped-def]
    token = (await client.post(path, headers=ADMIN)).json()["token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def stewards(client) -> dict:  # type: ignore[no-untyped-def]
    """wang looks after the 铜山 station, li the 邳州 one."""
    for steward, station in (("wang", "st-tongshan"), ("li", "st-pizhou")):
        body = {"name": f"{steward}管家", "station_ids": [station]}
        assert (
            await client.put(f"/api/admin/stewards/{steward}", headers=ADMIN, json=body)
        ).status_code == 201
    return {s: await bearer(client, f"/api/admin/stewards/{s}/token") for s in ("wang", "li")}


async def test_a_need_goes_from_the_form_to_a_published_case(client, context, stewards):
    wang, li = stewards["wang"], stewards["li"]
    bad = await client.post("/api/needs", json=FORM | {"contact_phone": "电话123"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("contact_phone:")
    filed = await client.post("/api/needs", json=FORM)
    assert filed.status_code == 201
    need = filed.json()
    need_id, filer = need["need_id"], {"X-Need-Token": need["token"]}
    assert need["status_url"].endswith(f"/needs/{need_id}#token={need['token']}")
    assert (need["status"], need["region"], need["can_withdraw"]) == ("submitted", "铜山区", True)

    assert (await client.get(f"/api/needs/{need_id}")).status_code == 404
    assert (await client.get(f"/api/needs/{need_id}", headers={"X-Need-Token": "x"})).status_code == 404
    shot = await client.post(
        f"/api/needs/{need_id}/photos", headers=filer, files={"photo": ("a.png", png_bytes(), "image/png")}
    )
    assert shot.status_code == 201 and len(shot.json()["photos"]) == 1
    photo = shot.json()["photos"][0]
    assert (await client.get(photo, headers=filer)).headers["content-type"] == "image/png"
    assert (await client.get(photo)).status_code == 404

    assert (await client.get(f"/api/admin/needs/{need_id}", headers=li)).status_code == 403
    assert need_id not in {n["need_id"] for n in (await client.get("/api/admin/needs", headers=li)).json()}
    assert need_id in {n["need_id"] for n in (await client.get("/api/admin/needs", headers=wang)).json()}
    detail = (await client.get(f"/api/admin/needs/{need_id}", headers=wang)).json()
    assert detail["contact_phone"] == "13805160009" and detail["station_name"] == "铜山服务站"
    proposed = [p["expert_id"] for p in detail["proposed"]]
    assert len(proposed) >= 2
    assert {"county-ts", "ind-machinery", "city"} <= {t["team_id"] for t in detail["teams"]}
    helper, other = proposed[0], proposed[1]
    stranger = next(e for e in ("E01", "E02", "E03", "E04") if e not in (helper, other))

    assert (
        await client.post(f"/api/admin/needs/{need_id}/match", headers=li, json={"expert_ids": [helper]})
    ).status_code == 403
    matched = await client.post(
        f"/api/admin/needs/{need_id}/match", headers=wang, json={"expert_ids": [helper, other]}
    )
    assert matched.status_code == 200 and matched.json()["status"] == "matched"
    too_early = await client.post(
        f"/api/admin/needs/{need_id}/done",
        headers=wang,
        json={"outcome": "solved_onsite", "workers_helped": 1},
    )
    assert too_early.status_code == 409 and "only scheduled help" in too_early.json()["detail"]

    helper_auth = await bearer(client, f"/api/admin/experts/{helper}/token")
    stranger_auth = await bearer(client, f"/api/admin/experts/{stranger}/token")
    assert (await client.get(f"/api/expert/needs/{need_id}", headers=stranger_auth)).status_code == 404
    assert (
        await client.post(f"/api/expert/needs/{need_id}/accept", headers=stranger_auth)
    ).status_code == 404
    assert (await client.get("/api/expert/needs", headers=wang)).status_code == 403  # a steward is no expert
    mine = (await client.get("/api/expert/needs", headers=helper_auth)).json()
    assert [(n["need_id"], n["your_state"], n["contact_phone"]) for n in mine][:1] == [
        (need_id, "asked", None)
    ]
    accepted = await client.post(f"/api/expert/needs/{need_id}/accept", headers=helper_auth)
    assert accepted.status_code == 200 and accepted.json()["contact_phone"] == "13805160009"

    plan = {"help_mode": "onsite", "help_at": "2026-11-12T09:30:00+08:00", "help_place": "冲压车间"}
    assert (
        await client.post(f"/api/admin/needs/{need_id}/schedule", headers=li, json=plan)
    ).status_code == 403
    naive = await client.post(
        f"/api/admin/needs/{need_id}/schedule", headers=wang, json=plan | {"help_at": "2026-11-12T09:30"}
    )
    assert naive.status_code == 422 and naive.json()["detail"].startswith("help_at:")
    scheduled = await client.post(f"/api/admin/needs/{need_id}/schedule", headers=wang, json=plan)
    assert scheduled.status_code == 200 and scheduled.json()["help_at"] == "2026-11-12T01:30:00+00:00"
    result = {
        "outcome": "solved_onsite",
        "outcome_note": "更换平衡缸减压阀后停顿消失。",
        "workers_helped": 55,
    }
    assert (
        await client.post(f"/api/admin/needs/{need_id}/done", headers=wang, json=result)
    ).status_code == 200

    seen = (await client.get(f"/api/needs/{need_id}", headers=filer)).json()
    assert (seen["status"], seen["outcome"], seen["workers_helped"], seen["can_withdraw"]) == (
        "done",
        "solved_onsite",
        55,
        False,
    )
    assert [e["expert_id"] for e in seen["experts"]] == [helper, other]  # nobody declined
    gone = await client.post(f"/api/needs/{need_id}/withdraw", headers=filer)
    assert gone.status_code == 409 and "already done" in gone.json()["detail"]

    case = {"title": "压力机滑块偶发停顿", "question": PROBLEM, "answer": result["outcome_note"]}
    assert (
        await client.post(f"/api/admin/needs/{need_id}/publish", headers=li, json=case)
    ).status_code == 403
    published = await client.post(f"/api/admin/needs/{need_id}/publish", headers=wang, json=case)
    assert published.status_code == 201
    case_id = published.json()["case_id"]
    again = await client.post(f"/api/admin/needs/{need_id}/publish", headers=ADMIN, json=case)
    assert again.status_code == 409 and case_id in again.json()["detail"]
    async with context.sessions() as session:
        stored = await session.get(Case, case_id)
    assert stored is not None and (stored.expert_id, stored.industry) == (helper, "汽车零部件")
    assert case_id in {c.id for c in context.index.current.cases}  # searchable at once
    listed = {n["need_id"]: n for n in (await client.get("/api/admin/needs", headers=ADMIN)).json()}
    assert listed[need_id]["published_case_id"] == case_id and "demo-need-05" in listed


async def test_the_filer_withdraws_and_unfinished_needs_cannot_be_published(client, stewards):
    need = (await client.post("/api/needs", json=FORM | {"help_wanted": ["online", "training"]})).json()
    filer = {"X-Need-Token": need["token"]}
    case = {"title": "t", "question": "q", "answer": "a"}
    early = await client.post(
        f"/api/admin/needs/{need['need_id']}/publish", headers=stewards["wang"], json=case
    )
    assert early.status_code == 409 and "only a solved need" in early.json()["detail"]
    withdrawn = await client.post(f"/api/needs/{need['need_id']}/withdraw", headers=filer)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    again = await client.post(f"/api/admin/needs/{need['need_id']}/withdraw", headers=stewards["wang"])
    assert again.status_code == 409


async def test_each_station_has_a_form_link_with_its_qr_code(client, stewards):
    wang = stewards["wang"]
    forms = (await client.get("/api/admin/need-forms", headers=wang)).json()
    assert [(f["station_id"], f["url"]) for f in forms] == [
        ("st-tongshan", "http://127.0.0.1:8000/n/st-tongshan")
    ]
    assert len((await client.get("/api/admin/need-forms", headers=ADMIN)).json()) == 6
    qr = await client.get("/api/admin/need-forms/st-tongshan/qr.png", headers=wang)
    assert qr.status_code == 200 and qr.content.startswith(b"\x89PNG")
    assert (await client.get("/api/admin/need-forms/st-pizhou/qr.png", headers=wang)).status_code == 403
    assert (await client.get("/api/admin/need-forms/nope/qr.png", headers=ADMIN)).status_code == 404
    page = await client.get("/n/st-tongshan")
    assert page.status_code == 200 and "铜山服务站" in page.text
    assert (await client.get("/n/nope")).status_code == 404
