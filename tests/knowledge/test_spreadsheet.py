"""Rosters from Excel and CSV: Chinese headers, the cells Excel and people produce, every kind of
bad cell named as file:sheet:row:column with nothing written, and the workbook round trip."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.runtime import database
from knowledge.errors import KnowledgeFormatError
from knowledge.interchange import export_dir, import_dir
from knowledge.models import Case, Expert, Site, Station, Team
from knowledge.spreadsheet import Roster, import_spreadsheet, read_spreadsheet
from knowledge.workbook import export_workbook, template_workbook
from tests.conftest import DEMO_DIR
from tests.factories import expert, knowledge_folder, stored, xlsx_bytes

Sessions = async_sessionmaker[AsyncSession]

EXPERT_HEADERS = [
    "编号",
    "姓名",
    "职称",
    "荣誉",
    "单位",
    "区县",
    "行业",
    "专长",
    "团队",
    "最多工单",
    "在岗",
    "微信",
]
ROSTER = {
    "团队": [
        ["编号", "名称", "级别", "地区", "行业", "联系人", "联系方式"],
        ["T01", "徐州市劳模工匠助企服务团", "市级", "徐州市", "煤矿、电力", "张主任", 13812345678],
    ],
    "服务站": [["编号", "名称", "地区", "联系方式"], ["S01", "铜山区职工服务站", "铜山区", "0516-8888"]],
    "专家": [
        EXPERT_HEADERS,
        [
            "E01",
            "王建国",
            "高级技师",
            "全国劳动模范",
            "徐工集团",
            "铜山区",
            "工程机械",
            "液压维修，焊接",
            "T01",
            3,
            "是",
            "wjg",
        ],
        [],  # an empty row is skipped
        [
            "E02",
            "陈立新",
            None,
            None,
            None,
            None,
            None,
            "电气维修/焊接、S7-1200/1500通讯",
            None,
            None,
            "停用",
            None,
        ],
    ],
    "站点": [
        ["代码", "车间", "单位", "所属区县", "行业", "服务站", "启用"],
        ["xcmg-3", "徐工重型 三号车间", "徐工集团", "铜山区", "工程机械", "S01", "否"],
    ],
    "案例": [
        ["编号", "标题", "问题", "答案", "行业", "标签", "解答专家", "日期"],
        [
            "K001",
            "动臂下沉",
            "挖掘机动臂自己往下掉",
            "检查动臂油缸内泄。",
            "工程机械",
            "液压;油缸",
            "E01",
            "2024/5/1",
        ],
    ],
    "说明": [["这一页不导入"]],
}


async def read_and_import(sessions: Sessions, data: bytes, name: str = "roster.xlsx", **kwargs):
    async with sessions() as session:
        return await import_spreadsheet(session, read_spreadsheet(data, name), **kwargs)


async def counts(sessions: Sessions) -> tuple[int, ...]:
    async with sessions() as s:
        models = (Team, Station, Expert, Site, Case)
        return tuple([await s.scalar(select(func.count()).select_from(m)) or 0 for m in models])


async def test_a_chinese_workbook_is_imported_with_its_extra_columns(sessions: Sessions):
    report = await read_and_import(sessions, xlsx_bytes(ROSTER))
    assert report.created == {"teams": 1, "stations": 1, "experts": 2, "sites": 1, "cases": 1}
    e1, e2 = await stored(sessions, Expert, "E01"), await stored(sessions, Expert, "E02")
    assert e1.title == "高级技师、全国劳动模范" and e1.skills == ["液压维修", "焊接"]
    assert e1.team_ids == ["T01"] and e1.max_open_tickets == 3 and e1.extra == {"微信": "wjg"}
    assert (
        e2.skills == ["电气维修", "焊接", "S7-1200/1500通讯"]
        and e2.active is False
        and e2.max_open_tickets == 5
    )
    team = await stored(sessions, Team, "T01")
    assert team.level == "city" and team.industries == ["煤矿", "电力"]
    assert team.contact == "张主任 13812345678"  # a phone number Excel kept as a number
    site = await stored(sessions, Site, "xcmg-3")
    assert site.station == "S01" and site.active is False
    case = await stored(sessions, Case, "K001")
    assert (
        case.tags == ["液压", "油缸"]
        and case.created_at == "2024-05-01"
        and case.answer == "检查动臂油缸内泄。"
    )

    again = await read_and_import(sessions, xlsx_bytes(ROSTER), dry_run=True)
    assert not again.changed and again.unchanged["experts"] == 2


async def test_full_width_characters_and_spaces_are_normalised(sessions: Sessions):
    sheets = {
        "团队": [["编号", "名称", "层级"], ["T01", "团队", "  县区 "]],
        "experts": [
            ["id", "name", "skills", "team_ids", "max_open_tickets", "active"],
            ["  Ｅ０７ ", "　王　工  ", " 焊接 、 切割 ", "Ｔ０１", "３", " ＴＲＵＥ "],
        ],
        "sites": [["code", "name"], ["ｘｃｍｇ－３", "徐工（重型）三号车间"]],
    }
    await read_and_import(sessions, xlsx_bytes(sheets))
    e07 = await stored(sessions, Expert, "E07")
    assert e07.name == "王　工" and e07.skills == ["焊接", "切割"]  # Chinese text kept as written
    assert e07.team_ids == ["T01"] and e07.max_open_tickets == 3 and e07.active is True
    assert (await stored(sessions, Site, "xcmg-3")).name == "徐工（重型）三号车间"
    assert (await stored(sessions, Team, "T01")).level == "county"


async def test_excel_numbers_dates_and_phone_numbers(sessions: Sessions):
    sheets = {
        "专家": [
            ["编号", "姓名", "专长", "最多同时处理工单", "telegram_id", "在岗"],
            [7, "王工", "焊接", 3.0, 123456789.0, 1],
        ],
        "服务站": [["编号", "名称", "联系人"], ["S01", "服务站", 13812345678.0]],
        "案例": [
            ["编号", "标题", "问题", "解答", "创建日期", "页码"],
            ["K1", "t", "q", "a", datetime(2024, 5, 1, 10, 30), 12.0],
            ["K2", "t", "q", "a", date(2023, 12, 31), 2.5],
        ],
    }
    await read_and_import(sessions, xlsx_bytes(sheets))
    e7 = await stored(sessions, Expert, "7")
    assert e7.max_open_tickets == 3 and e7.telegram_id == 123456789 and e7.active is True
    assert (await stored(sessions, Station, "S01")).contact == "13812345678"
    k1, k2 = await stored(sessions, Case, "K1"), await stored(sessions, Case, "K2")
    assert (k1.created_at, k2.created_at) == ("2024-05-01", "2023-12-31")
    assert (k1.extra, k2.extra) == ({"页码": 12}, {"页码": 2.5})


GOOD = ["E01", "王工", "焊接", None, 3, "是"]
HEAD = ["编号", "姓名", "专长", "团队", "最多工单", "在岗"]
BAD_CELLS = {
    "missing required": (
        {"专家": [HEAD, GOOD, ["E02", "李工", None]]},
        "roster.xlsx:专家:3:专长 (skills): required field is missing",
    ),
    "missing required column": (
        {"专家": [["编号", "姓名"], ["E02", "李工"]]},
        "roster.xlsx:专家:1:专长 (skills): required column is missing",
    ),
    "wrong type": (
        {"专家": [HEAD, ["E02", "李工", "焊接", None, "三个"]]},
        "roster.xlsx:专家:2:最多工单 (max_open_tickets): not a whole number: '三个'",
    ),
    "negative count": (
        {"专家": [HEAD, ["E02", "李工", "焊接", None, -1]]},
        "roster.xlsx:专家:2:最多工单 (max_open_tickets): Input should be greater than or equal to 0",
    ),
    "bad boolean": (
        {"专家": [HEAD, ["E02", "李工", "焊接", None, 2, "可能"]]},
        "roster.xlsx:专家:2:在岗 (active): not a yes/no value: '可能' (use 是 or 否)",
    ),
    "non-integer count": (
        {"专家": [HEAD, ["E02", "李工", "焊接", None, 3.5]]},
        "roster.xlsx:专家:2:最多工单 (max_open_tickets): must be a whole number, not 3.5",
    ),
    "bad site code": (
        {"站点": [["编号", "名称"], ["X 3", "三号车间"]]},
        "roster.xlsx:站点:2:编号 (code): Value error, must be 3-32 characters of a-z, 0-9 and '-'",
    ),
    "bad team level": (
        {"团队": [["编号", "名称", "级别"], ["T01", "团队", "省级"]]},
        "roster.xlsx:团队:2:级别 (level): not a team level: '省级' (use 市级, 县区, 行业 or 企业)",
    ),
    "bad date": (
        {"案例": [["编号", "标题", "问题", "解答", "日期"], ["K1", "t", "q", "a", "昨天"]]},
        "roster.xlsx:案例:2:日期 (created_at): Value error, not an ISO date: '昨天'",
    ),
    "unknown sheet name": (
        {"专家": [HEAD, GOOD], "Sheet1": [["编号"], ["E09"]]},
        "roster.xlsx:Sheet1: unknown sheet name; use 团队, 服务站, 专家, 站点, 案例, 课程",
    ),
    "duplicate id": (
        {"专家": [HEAD, GOOD, ["E02", "李工", "焊接"], ["Ｅ01", "张工", "钳工"]]},
        "roster.xlsx:专家:4:编号 (id): duplicate id 'E01' (rows 2 and 4)",
    ),
    "dangling team id": (
        {"专家": [HEAD, ["E02", "李工", "焊接", "T99"]]},
        "roster.xlsx:专家:2:团队 (team_ids): no team with id 'T99'",
    ),
    "value without a header": (
        {"专家": [HEAD, GOOD + [None, "多余"]]},
        "roster.xlsx:专家:2:H: a value in a column without a header",
    ),
}


@pytest.mark.parametrize("name", BAD_CELLS)
async def test_a_bad_cell_is_named_by_file_sheet_row_and_column_and_nothing_is_written(
    name: str, sessions: Sessions, tmp_path: Path
):
    async with sessions() as s:
        await import_dir(s, knowledge_folder(tmp_path / "before", experts=[expert("E00")]))
    sheets, expected = BAD_CELLS[name]
    with pytest.raises(KnowledgeFormatError) as raised:
        await read_and_import(sessions, xlsx_bytes(sheets | {"案例": sheets.get("案例", [])}))
    assert expected in str(raised.value).splitlines()
    assert await counts(sessions) == (0, 0, 1, 0, 0)


async def test_every_problem_of_every_sheet_is_reported_at_once(sessions: Sessions):
    sheets = {
        "专家": [HEAD, ["E01", None, "焊接", None, "x"]],
        "站点": [["编号", "名称"], ["ok-site", None]],
    }
    with pytest.raises(KnowledgeFormatError) as raised:
        read_spreadsheet(xlsx_bytes(sheets), "roster.xlsx")
    assert [(p.sheet, p.line, p.column) for p in raised.value.problems] == [
        ("专家", 2, "最多工单 (max_open_tickets)"),
        ("专家", 2, "姓名 (name)"),
        ("站点", 2, "名称 (name)"),
    ]
    assert raised.value.problems[0].as_dict() == {
        "file": "roster.xlsx",
        "sheet": "专家",
        "row": 2,
        "column": "最多工单 (max_open_tickets)",
        "message": "not a whole number: 'x'",
    }


async def test_csv_files_named_by_kind_in_utf8_or_gbk(sessions: Sessions):
    text = "编号,姓名,专长,在岗\nE01,王工,焊接、切割,是\n\nE02,李工,钳工,否\n"
    await read_and_import(sessions, ("\ufeff" + text).encode("utf-8"), "专家.csv")
    assert (await stored(sessions, Expert, "E01")).skills == ["焊接", "切割"]
    sites = "code,name,active\npz-motor-2,邳州电机 二车间,1\n".encode("gb18030")
    async with sessions() as s:
        await import_spreadsheet(s, read_spreadsheet(sites, "名单.csv", kind="站点"))
    assert (await stored(sessions, Site, "pz-motor-2")).name == "邳州电机 二车间"

    with pytest.raises(KnowledgeFormatError) as raised:
        read_spreadsheet("编号,姓名,专长\nE03,张工,\n".encode(), "experts.csv")
    assert str(raised.value) == "experts.csv:2:专长 (skills): required field is missing"
    with pytest.raises(KnowledgeFormatError, match="名单.csv: the file name does not say what it holds"):
        read_spreadsheet(text.encode(), "名单.csv")
    with pytest.raises(KnowledgeFormatError, match="roster.txt: not a .xlsx or .csv file"):
        read_spreadsheet(text.encode(), "roster.txt")
    with pytest.raises(KnowledgeFormatError, match="fake.xlsx: not an Excel workbook"):
        read_spreadsheet(b"PK not really", "fake.xlsx")


async def test_the_demo_knowledge_survives_a_workbook_round_trip(
    sessions: Sessions, settings, tmp_path: Path
):
    async with sessions() as s:
        await import_dir(s, DEMO_DIR)
        data, workbook_counts = await export_workbook(s)
        await export_dir(s, tmp_path / "original")
    assert workbook_counts == {
        "teams": 14,
        "stations": 6,
        "experts": 29,
        "sites": 20,
        "cases": 82,
        "classes": 6,
    }
    other = settings.model_copy(
        update={
            "data_dir": tmp_path / "other",
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'other.db'}",
        }
    )
    async with database(other) as (_, other_sessions):
        report = await read_and_import(other_sessions, data, "export.xlsx")
        assert report.created == {
            "teams": 14,
            "stations": 6,
            "experts": 29,
            "sites": 20,
            "cases": 82,
            "classes": 6,
        }
        async with other_sessions() as s:
            await export_dir(s, tmp_path / "again")
    for path in sorted((tmp_path / "original").iterdir()):
        assert path.read_bytes() == (tmp_path / "again" / path.name).read_bytes(), path.name


async def test_lists_that_would_not_split_back_and_teams_stations_survive_the_round_trip(sessions: Sessions):
    sheets = {
        "团队": [["编号", "名称", "级别", "行业"], ["T01", "企业团队", "企业", "电力"]],
        "专家": [["编号", "姓名", "专长", "团队"], ["E01", "王工", '["焊接、切割", "钳工"]', "T01"]],
    }
    await read_and_import(sessions, xlsx_bytes(sheets))
    assert (await stored(sessions, Expert, "E01")).skills == ["焊接、切割", "钳工"]
    async with sessions() as s:
        data, _ = await export_workbook(s)
    roster: Roster = read_spreadsheet(data, "export.xlsx")
    assert roster.parsed["experts.jsonl"][0][1].skills == ["焊接、切割", "钳工"]
    assert roster.parsed["teams.jsonl"][0][1].level == "enterprise"


def test_the_template_has_every_sheet_and_header_and_reads_back_empty():
    roster = read_spreadsheet(template_workbook(), "template.xlsx")
    assert list(roster.parsed) == [
        "teams.jsonl",
        "stations.jsonl",
        "experts.jsonl",
        "sites.jsonl",
        "cases.jsonl",
        "classes.jsonl",
    ]
    assert all(records == [] for records in roster.parsed.values())
    assert roster.sheets["experts.jsonl"].labels["skills"] == "专长 (skills)"
