"""The knowledge written as one Excel workbook (sheets 团队/服务站/专家/站点/案例, Chinese headers)
that ``knowledge.spreadsheet`` reads back unchanged, and the blank template stewards fill in.

Lists are written joined with 、 (as a person types them); a list whose items would not split
back the same is written as JSON text, which the reader also takes. Fields the format does not
name keep their own column; lists and objects among them are written as JSON text.
"""

from __future__ import annotations

import io
import json
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.interchange import KINDS, row_to_record
from knowledge.sheet_cells import LIST_SPLIT
from knowledge.sheet_columns import LEVEL_NAMES, NOTES_SHEETS, SPECS, SheetSpec, written_header

KIND_OF = {kind.file.removesuffix(".jsonl"): kind for kind in KINDS}
BOLD = Font(bold=True)
USAGE = (
    "每个工作表第一行是列名，从第二行起每行一条。空行跳过，空格子表示不填。",
    "再次导入时按编号更新已有的记录；不认识的列原样保存。",
    "先点「预览」检查，再点「确认导入」。",
)


async def export_workbook(session: AsyncSession) -> tuple[bytes, dict[str, int]]:
    """Every team, station, expert, site and case (sorted by id): the .xlsx bytes and counts."""
    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]  # a fresh workbook has one sheet
    counts: dict[str, int] = {}
    for spec in SPECS:
        kind = KIND_OF[spec.kind]
        key = getattr(kind.model, kind.key)
        rows = (await session.scalars(select(kind.model).order_by(key))).all()
        records = [row_to_record(row, kind) for row in rows]
        _write_sheet(workbook.create_sheet(spec.names[0]), spec, records)
        counts[spec.kind] = len(records)
    return _bytes(workbook), counts


def template_workbook() -> bytes:
    """The sheets with their headers only, and a 说明 sheet saying what each column holds."""
    workbook = Workbook()
    notes: Worksheet = workbook.active  # type: ignore[assignment]  # a fresh workbook has one sheet
    notes.title = NOTES_SHEETS[0]
    notes.append(["工作表", "列名", "字段", "说明"])
    for spec in SPECS:
        _write_sheet(workbook.create_sheet(spec.names[0]), spec, [])
        for column in spec.columns:
            notes.append([spec.names[0], written_header(column), column.field, column.note])
    notes.append([])
    for line in USAGE:
        notes.append(["", "", "", line])
    for cell in notes[1]:
        cell.font = BOLD
    for letter, width in zip("ABCD", (10, 18, 18, 70), strict=True):
        notes.column_dimensions[letter].width = width
    return _bytes(workbook)


def _write_sheet(sheet: Worksheet, spec: SheetSpec, records: list[dict[str, Any]]) -> None:
    known = [column.field for column in spec.columns]
    extras = list(dict.fromkeys(name for record in records for name in record if name not in known))
    sheet.append([written_header(column) for column in spec.columns] + extras)
    for record in records:
        sheet.append([_cell(record.get(name), name == "level") for name in known + extras])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text, never a formula Excel would run
    for cell in sheet[1]:
        cell.font = BOLD
    sheet.freeze_panes = "A2"
    for index, column in enumerate(spec.columns, start=1):
        letter = get_column_letter(index)
        wide = column.type in ("list", "codes") or column.field in ("bio", "question", "answer")
        sheet.column_dimensions[letter].width = 40 if wide else 14
        if column.field in ("bio", "question", "answer"):
            for cell in sheet[letter][1:]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")


def _cell(value: Any, is_level: bool = False) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if is_level:
        return LEVEL_NAMES.get(value, value)
    if isinstance(value, list):
        joined = "、".join(str(item) for item in value)
        splits_back = [part.strip() for part in LIST_SPLIT.split(joined) if part.strip()] == value
        return joined if splits_back and not joined.startswith("[") else json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _bytes(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
