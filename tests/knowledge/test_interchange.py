from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge.errors import KnowledgeFormatError
from knowledge.interchange import export_dir, import_dir
from knowledge.models import Case, Expert, Site
from tests.factories import case, expert, knowledge_folder, site

Sessions = async_sessionmaker[AsyncSession]


async def counts(sessions: Sessions) -> tuple[int, int, int]:
    async with sessions() as s:
        return tuple(  # type: ignore[return-value]  # three counts, never None
            [await s.scalar(select(func.count()).select_from(m)) for m in (Expert, Case, Site)]
        )


async def import_folder(sessions: Sessions, folder: Path):
    async with sessions() as s:
        return await import_dir(s, folder)


async def test_valid_import_upserts_and_keeps_unknown_fields(sessions: Sessions, tmp_path: Path):
    folder = knowledge_folder(
        tmp_path / "kb",
        experts=[expert("E01", wechat="abc"), expert("E02", active=False, max_open_tickets=2)],
        cases=[case("K001"), case("K002", expert_id=None, tags=["SV0401"])],
        sites=[site("xcmg-3")],
    )
    report = await import_folder(sessions, folder)
    assert report.created == {"experts": 2, "sites": 1, "cases": 2}
    assert await counts(sessions) == (2, 2, 1)
    async with sessions() as s:
        e1 = await s.get(Expert, "E01")
        e2 = await s.get(Expert, "E02")
    assert e1 is not None and e1.extra == {"wechat": "abc"} and e1.max_open_tickets == 5
    assert e2 is not None and e2.active is False and e2.max_open_tickets == 2


async def test_reimport_changes_nothing_and_update_is_applied(sessions: Sessions, tmp_path: Path):
    folder = knowledge_folder(tmp_path / "kb", experts=[expert("E01")], cases=[case("K001")])
    await import_folder(sessions, folder)
    again = await import_folder(sessions, folder)
    assert not again.changed
    assert again.unchanged == {"experts": 1, "cases": 1}

    knowledge_folder(tmp_path / "kb", cases=[case("K001", answer="新的答案")])
    (tmp_path / "kb" / "experts.jsonl").unlink()
    changed = await import_folder(sessions, folder)
    assert changed.updated == {"cases": 1}
    async with sessions() as s:
        stored = await s.get(Case, "K001")
    assert stored is not None and stored.answer == "新的答案"


BAD_INPUTS = {
    "bad json": (
        {
            "experts": [
                '{"id": "E01", "name": "x", "skills": ["a"]',
            ]
        },
        "experts.jsonl:1: not valid JSON",
    ),
    "not an object": ({"sites": ['["xcmg-3"]']}, "sites.jsonl:1: expected a JSON object"),
    "missing required field": (
        {"experts": [expert("E01"), {"id": "E02", "name": "王工"}]},
        "experts.jsonl:2: field 'skills': required field is missing",
    ),
    "wrong type": (
        {"experts": [expert("E01", max_open_tickets="5")]},
        "experts.jsonl:1: field 'max_open_tickets': Input should be a valid integer",
    ),
    "wrong list item type": (
        {"experts": [expert("E01", skills=["焊接", 3])]},
        "experts.jsonl:1: field 'skills.1'",
    ),
    "dangling expert_id": (
        {"experts": [expert("E01")], "cases": [case("K001"), case("K002", expert_id="E99")]},
        "cases.jsonl:2: field 'expert_id': no expert with id 'E99'",
    ),
    "duplicate id": (
        {"cases": [case("K001", expert_id=None), case("K001", expert_id=None)]},
        "cases.jsonl:2: field 'id': duplicate id 'K001' (first on line 1)",
    ),
    "bad site code": (
        {"sites": [site("X 3")]},
        "sites.jsonl:1: field 'code': Value error, must be 3-32 characters",
    ),
    "bad date": (
        {"cases": [case("K001", expert_id=None, created_at="昨天")]},
        "cases.jsonl:1: field 'created_at'",
    ),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
async def test_bad_input_names_file_line_field_and_writes_nothing(
    name: str, sessions: Sessions, tmp_path: Path
):
    await import_folder(sessions, knowledge_folder(tmp_path / "before", experts=[expert("E00")]))
    files, expected = BAD_INPUTS[name]
    folder = knowledge_folder(tmp_path / "kb", **files)
    with pytest.raises(KnowledgeFormatError) as raised:
        await import_folder(sessions, folder)
    assert expected in str(raised.value)
    assert await counts(sessions) == (1, 0, 0)


async def test_problems_in_several_files_are_all_reported(sessions: Sessions, tmp_path: Path):
    folder = knowledge_folder(
        tmp_path / "kb",
        experts=[expert("E01"), "{oops"],
        sites=[site("ok-site"), {"code": "ab"}],
    )
    with pytest.raises(KnowledgeFormatError) as raised:
        await import_folder(sessions, folder)
    lines = str(raised.value).splitlines()
    assert any(line.startswith("experts.jsonl:2:") for line in lines)
    assert any(line.startswith("sites.jsonl:2: field 'code'") for line in lines)
    assert any(line.startswith("sites.jsonl:2: field 'name'") for line in lines)
    assert await counts(sessions) == (0, 0, 0)


async def test_case_may_refer_to_expert_already_stored(sessions: Sessions, tmp_path: Path):
    await import_folder(sessions, knowledge_folder(tmp_path / "a", experts=[expert("E05")]))
    await import_folder(sessions, knowledge_folder(tmp_path / "b", cases=[case("K9", expert_id="E05")]))
    assert await counts(sessions) == (1, 1, 0)


async def test_empty_folder_is_an_error(sessions: Sessions, tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(KnowledgeFormatError, match="none of teams.jsonl, stations.jsonl, experts.jsonl"):
        await import_folder(sessions, tmp_path / "empty")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_round_trip_is_lossless(sessions: Sessions, tmp_path: Path, settings):
    source = knowledge_folder(
        tmp_path / "kb",
        experts=[
            expert(
                "E02",
                title="全国劳动模范",
                industries=["煤矿"],
                telegram_id=123456789,
                bio="三十年井下机电维修",
                custom={"a": [1, 2]},
            ),
            expert("E01"),
        ],
        cases=[case("K001", tags=["SV0401", "数控"], created_at="2024-05-01", industry="工程机械与智能制造")],
        sites=[site("xcmg-3", org="徐工集团", industry="工程机械与智能制造", note="北门")],
    )
    await import_folder(sessions, source)
    async with sessions() as s:
        await export_dir(s, tmp_path / "out")
    for name in ("experts", "cases", "sites"):
        original = sorted(read_jsonl(source / f"{name}.jsonl"), key=lambda r: r.get("id") or r["code"])
        exported = read_jsonl(tmp_path / "out" / f"{name}.jsonl")
        assert len(original) == len(exported)
        for before, after in zip(original, exported, strict=True):
            # every field given comes back unchanged; defaults are written out explicitly
            assert after | before == after, name
    exported_experts = read_jsonl(tmp_path / "out" / "experts.jsonl")
    assert exported_experts[0]["max_open_tickets"] == 5 and exported_experts[0]["active"] is True

    # importing the export into another database and exporting again gives the same bytes
    from bot.runtime import database

    other = settings.model_copy(
        update={
            "data_dir": tmp_path / "other",
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'other.db'}",
        }
    )
    async with database(other) as (_, other_sessions):
        async with other_sessions() as s:
            assert (await import_dir(s, tmp_path / "out")).changed
            await export_dir(s, tmp_path / "out2")
    for name in ("experts", "cases", "sites"):
        assert (tmp_path / "out" / f"{name}.jsonl").read_bytes() == (
            tmp_path / "out2" / f"{name}.jsonl"
        ).read_bytes()
