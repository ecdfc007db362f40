"""Small knowledge folders for tests, written in the interchange format; small real photos."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


def png_bytes(size: tuple[int, int] = (6, 4), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real PNG (the service decodes and re-encodes every photo)."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    """A picture's format, size and pixels: equal for the same picture re-encoded."""
    with Image.open(io.BytesIO(data)) as image:
        return image.format or "", image.size, image.convert("RGB").tobytes()


def expert(id: str = "E01", **fields: Any) -> dict[str, Any]:
    return {"id": id, "name": f"专家{id}", "skills": ["液压系统维修"], "region": "铜山区"} | fields


def case(id: str = "K001", **fields: Any) -> dict[str, Any]:
    return {
        "id": id,
        "title": f"案例{id}",
        "question": "挖掘机动臂自己往下掉",
        "answer": "检查动臂油缸内泄，更换密封件。",
        "expert_id": "E01",
    } | fields


def site(code: str = "xcmg-3", **fields: Any) -> dict[str, Any]:
    return {"code": code, "name": "徐工重型 三号车间", "region": "铜山区"} | fields


def team(id: str = "T01", **fields: Any) -> dict[str, Any]:
    return {"id": id, "name": f"团队{id}", "level": "county", "region": "铜山区"} | fields


def station(id: str = "S01", **fields: Any) -> dict[str, Any]:
    return {"id": id, "name": f"服务站{id}", "region": "铜山区"} | fields


def write_jsonl(path: Path, rows: list[dict[str, Any]] | list[str]) -> Path:
    """Rows may be dicts (dumped as JSON) or raw strings (written as they are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def knowledge_folder(
    folder: Path,
    experts: list[Any] | None = None,
    cases: list[Any] | None = None,
    sites: list[Any] | None = None,
    teams: list[Any] | None = None,
    stations: list[Any] | None = None,
) -> Path:
    files = (
        ("experts", experts),
        ("cases", cases),
        ("sites", sites),
        ("teams", teams),
        ("stations", stations),
    )
    for name, rows in files:
        if rows is not None:
            write_jsonl(folder / f"{name}.jsonl", rows)
    return folder


def xlsx_bytes(sheets: dict[str, list[list[Any]]]) -> bytes:
    """A workbook as a steward's Excel saves it: one sheet per name, rows as given (row 1 the
    headers); cells keep their Python types (numbers, dates, booleans)."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]  # a fresh workbook has one sheet
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


M = TypeVar("M")


async def stored(sessions: async_sessionmaker[AsyncSession], model: type[M], key: Any) -> M:
    """A row as the database holds it now, read in a session of its own."""
    async with sessions() as session:
        row = await session.get(model, key)
        assert row is not None, f"no {model.__name__} {key!r}"
        return row
