"""Roster uploads on /admin: the template, a dry run that writes nothing, every problem as a
row of ``problems`` with a 422, and a real import that writes and starts an index rebuild."""

from __future__ import annotations

from knowledge.spreadsheet import read_spreadsheet
from tests.factories import xlsx_bytes
from tests.utils.auth import ADMIN

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEAD = ["编号", "姓名", "单位", "所属区县", "专长", "最多工单"]
NEW = ["E90", "刘卫东", "邳州某电机有限公司", "邳州市", "绕线机张力调整、电机绕组嵌线", 4]


def upload(rows: list[list], name: str = "roster.xlsx") -> dict:
    return {"file": (name, xlsx_bytes({"专家": [HEAD, *rows]}), XLSX)}


async def test_a_dry_run_counts_and_writes_nothing(client):
    before = (await client.get("/api/admin/experts/E01", headers=ADMIN)).json()
    changed_e01 = ["E01", before["name"], before["org"], before["region"], "、".join(before["skills"]), 1]
    answer = await client.post(
        "/api/admin/import?dry_run=true", headers=ADMIN, files=upload([NEW, changed_e01])
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "dry_run": True,
        "created": {"experts": 1},
        "updated": {"experts": 1},
        "unchanged": {"experts": 0},
        "reindex": None,
    }
    assert (await client.get("/api/admin/experts/E90", headers=ADMIN)).status_code == 404
    assert (await client.get("/api/admin/experts/E01", headers=ADMIN)).json() == before


async def test_problems_are_listed_with_a_422_and_nothing_is_written(client):
    bad = ["E91", "张工", None, None, None, 2.5]
    answer = await client.post("/api/admin/import?dry_run=false", headers=ADMIN, files=upload([NEW, bad]))
    assert answer.status_code == 422
    body = answer.json()
    assert body["problems"] == [
        {
            "file": "roster.xlsx",
            "sheet": "专家",
            "row": 3,
            "column": "最多工单 (max_open_tickets)",
            "message": "must be a whole number, not 2.5",
        },
        {
            "file": "roster.xlsx",
            "sheet": "专家",
            "row": 3,
            "column": "专长 (skills)",
            "message": "required field is missing",
        },
    ]
    assert (
        body["detail"].splitlines()[0]
        == "roster.xlsx:专家:3:最多工单 (max_open_tickets): must be a whole number, not 2.5"
    )
    assert (await client.get("/api/admin/experts/E90", headers=ADMIN)).status_code == 404

    dangling = await client.post(
        "/api/admin/import?dry_run=true",
        headers=ADMIN,
        files={"file": ("sites.csv", "code,name,station\npz-motor-9,九车间,S404\n".encode(), "text/csv")},
    )
    assert dangling.status_code == 422
    assert (
        dangling.json()["problems"][0]["column"] == "station" and dangling.json()["problems"][0]["row"] == 2
    )
    wrong = await client.post("/api/admin/import", headers=ADMIN, files={"file": ("a.pdf", b"%PDF", "x")})
    assert wrong.status_code == 422 and wrong.json()["detail"] == "a.pdf: not a .xlsx or .csv file"
    empty = await client.post("/api/admin/import", headers=ADMIN, data={"x": "1"})
    assert empty.status_code == 422 and "multipart/form-data" in empty.json()["detail"]


async def test_a_real_import_writes_in_one_go_and_starts_a_rebuild(client, context):
    answer = await client.post("/api/admin/import?dry_run=false", headers=ADMIN, files=upload([NEW]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["created"] == {"experts": 1} and body["reindex"]["state"] == "running"
    stored = (await client.get("/api/admin/experts/E90", headers=ADMIN)).json()
    assert stored["skills"] == ["绕线机张力调整", "电机绕组嵌线"] and stored["max_open_tickets"] == 4
    await context.reindexer.wait()
    assert "E90" in [e.id for e in context.index.current.experts]

    again = await client.post("/api/admin/import?dry_run=false", headers=ADMIN, files=upload([NEW]))
    assert again.json()["unchanged"] == {"experts": 1} and again.json()["reindex"] is None


async def test_the_template_and_the_import_need_the_admin_token(client):
    template = await client.get("/api/admin/import/template.xlsx", headers=ADMIN)
    assert template.status_code == 200 and template.headers["content-type"] == XLSX
    assert "experts.jsonl" in read_spreadsheet(template.content, "template.xlsx").parsed
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        assert (await client.get("/api/admin/import/template.xlsx", headers=headers)).status_code == 401
        refused = await client.post("/api/admin/import?dry_run=false", headers=headers, files=upload([NEW]))
        assert refused.status_code == 401
    assert (await client.get("/api/admin/experts/E90", headers=ADMIN)).status_code == 404
