"""Classes in the interchange files and workbooks: imported from JSON Lines and Excel (times
with an offset, or Beijing time without one; 公开课/云课堂), bad lines named file:line:field and
nothing written, and the export read back unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge.errors import KnowledgeFormatError
from knowledge.interchange import export_dir, import_dir
from knowledge.models import TrainingClass
from knowledge.spreadsheet import import_spreadsheet, read_spreadsheet
from knowledge.states import ClassKind
from knowledge.workbook import export_workbook
from tests.factories import expert, knowledge_folder, station, stored, write_jsonl, xlsx_bytes

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite: the import's SQL is the one of the other kinds (tests/knowledge covers both)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


def course(id: str = "C01", **fields: object) -> dict[str, object]:
    return {"id": id, "title": "数控车床伺服报警", "starts_at": "2027-01-16T14:00:00+08:00"} | fields


async def test_json_lines_with_and_without_an_offset(sessions: Sessions, tmp_path: Path):
    folder = knowledge_folder(tmp_path / "kb", experts=[expert("E01")], stations=[station("S01")])
    write_jsonl(
        folder / "classes.jsonl",
        [
            course(teacher_id="E01", station_id="S01", topics=["数控车床"], capacity=30, note="三楼"),
            course("C02", kind="云课堂", starts_at="2027-01-23 19:30", online_url="https://m.example.cn/j/1"),
        ],
    )
    async with sessions() as session:
        report = await import_dir(session, folder)
    assert report.created["classes"] == 2
    first, second = await stored(sessions, TrainingClass, "C01"), await stored(sessions, TrainingClass, "C02")
    assert first.starts_at == datetime(2027, 1, 16, 6, 0, tzinfo=UTC) and first.extra == {"note": "三楼"}
    assert second.starts_at == datetime(2027, 1, 23, 11, 30, tzinfo=UTC) and second.kind == ClassKind.CLOUD
    async with sessions() as session:
        assert not (await import_dir(session, folder)).changed  # the same file again changes nothing
        await export_dir(session, tmp_path / "out")
    exported = (tmp_path / "out" / "classes.jsonl").read_text(encoding="utf-8")
    assert '"starts_at": "2027-01-23T19:30:00+08:00"' in exported and '"kind": "cloud"' in exported


async def test_bad_lines_are_named_and_nothing_is_written(sessions: Sessions, tmp_path: Path):
    folder = knowledge_folder(tmp_path / "kb", experts=[expert("E01")])
    write_jsonl(
        folder / "classes.jsonl",
        [
            course(),
            course("C02", recording_url="javascript:alert(1)"),
            course("C03", starts_at="下周三"),
            course("C04", capacity=0),
            course("C05", teacher_id="E99"),
            course("C06", kind="讲座"),
        ],
    )
    async with sessions() as session:
        with pytest.raises(KnowledgeFormatError) as caught:
            await import_dir(session, folder)
    named = {(p.line, p.field) for p in caught.value.problems}
    assert {(2, "recording_url"), (3, "starts_at"), (4, "capacity"), (6, "kind")} <= named
    assert "classes.jsonl:2: field 'recording_url': Value error, not an http(s) link" in str(caught.value)
    async with sessions() as session:
        assert await session.get(TrainingClass, "C01") is None
    write_jsonl(folder / "classes.jsonl", [course(), course("C05", teacher_id="E99")])
    async with sessions() as session:
        with pytest.raises(
            KnowledgeFormatError, match="classes.jsonl:2: field 'teacher_id': no expert with id 'E99'"
        ):
            await import_dir(session, folder)


async def test_a_workbook_sheet_of_classes(sessions: Sessions, tmp_path: Path):
    sheets = {
        "专家": [["编号", "姓名", "专长"], ["E01", "王工", "数控"]],
        "课程": [
            ["编号", "课程名称", "类型", "授课专家", "开始时间", "主题", "名额", "回放链接"],
            [
                "C01",
                "数控车床伺服报警",
                "公开课",
                "E01",
                datetime(2027, 1, 16, 14, 0),
                "数控车床、伺服报警",
                30,
                None,
            ],
            ["C02", "变频器", "云课堂", "E01", "2027/1/23 19:30", "变频器", None, "https://v.example.cn/1"],
        ],
    }
    roster = read_spreadsheet(xlsx_bytes(sheets), "roster.xlsx")
    async with sessions() as session:
        await import_spreadsheet(session, roster)
    first = await stored(sessions, TrainingClass, "C01")
    assert first.starts_at == datetime(2027, 1, 16, 6, 0, tzinfo=UTC) and first.topics == [
        "数控车床",
        "伺服报警",
    ]
    assert first.capacity == 30 and (await stored(sessions, TrainingClass, "C02")).kind == ClassKind.CLOUD
    async with sessions() as session:
        data, counts = await export_workbook(session)
    assert counts["classes"] == 2
    again = read_spreadsheet(data, "export.xlsx")
    assert [r.starts_at for _, r in again.parsed["classes.jsonl"]] == [
        datetime(2027, 1, 16, 6, 0, tzinfo=UTC),
        datetime(2027, 1, 23, 11, 30, tzinfo=UTC),
    ]


def test_bad_cells_are_named_by_sheet_row_and_column():
    sheets = {
        "课程": [
            ["编号", "课程名称", "开始时间", "回放链接"],
            ["C01", "数控", datetime(2027, 1, 16).date(), None],
            ["C02", "数控", "2027-01-16 14:00", "javascript:alert(1)"],
        ]
    }
    with pytest.raises(KnowledgeFormatError) as caught:
        read_spreadsheet(xlsx_bytes(sheets), "roster.xlsx")
    text = str(caught.value)
    assert "roster.xlsx:课程:2:开始时间 (starts_at)" in text
    assert "roster.xlsx:课程:3:回放链接 (recording_url): Value error, not an http(s) link" in text
