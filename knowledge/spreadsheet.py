"""Rosters from Excel (.xlsx) and CSV read into the records a JSON Lines import makes
(``docs/knowledge-format.md``, "Excel and CSV").

Every row goes through ``validate_record``, the check a JSON Lines line gets, after its cells are
converted (``knowledge.sheet_cells``). Problems name ``file:sheet:row:column`` and all of them
are raised together as ``KnowledgeFormatError``; nothing is written while any is left. Workbooks
are read with python-calamine, about 14x faster than openpyxl on a 5,000-row roster
(docs/benchmarks.md); openpyxl writes them (``knowledge.workbook``).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from python_calamine import CalamineWorkbook
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import FormatProblem, KnowledgeFormatError
from knowledge.interchange import (
    KINDS,
    ImportReport,
    Kind,
    Parsed,
    Progress,
    dangling_references,
    import_parsed,
    validate_record,
)
from knowledge.sheet_cells import CellError, convert, extra_value, is_empty
from knowledge.sheet_columns import NOTES_SHEETS, SPECS, Column, SheetSpec, column_for, label, spec_for
from knowledge.sheet_columns import written_header as written

MAX_UNPACKED_BYTES = 200 * 1024 * 1024  # a 10 MB upload that unpacks past this is refused unread
KIND_OF = {kind.file.removesuffix(".jsonl"): kind for kind in KINDS}
SHEET_NAMES = ", ".join(spec.names[0] for spec in SPECS)
SHEETS = ", ".join(spec.kind for spec in SPECS)

Table = tuple[str | None, list[Sequence[Any]]]  # a sheet's name (None: a CSV file) and its rows


@dataclass
class Sheet:
    """Where one kind's records were read, to name a problem found after reading."""

    file: str
    name: str | None
    labels: dict[str, str] = field(default_factory=dict)  # field -> "专长 (skills)"

    def problem(self, row: int | None, field_name: str | None, message: str) -> FormatProblem:
        column = None if field_name is None else self.labels.get(field_name, field_name)
        return FormatProblem(self.file, row, field_name, message, sheet=self.name, column=column)


@dataclass
class Roster:
    """A spreadsheet read and checked: its records as ``import_parsed`` takes them."""

    parsed: Parsed
    sheets: dict[str, Sheet]  # kind.file -> where it came from

    def relocate(self, problem: FormatProblem) -> FormatProblem:
        """A problem found on the parsed records (a dangling id) named by sheet and column."""
        sheet = self.sheets[problem.file]
        field_name = (problem.field or "").split(".")[0] or None
        return sheet.problem(problem.line, field_name, problem.message)


def read_spreadsheet(data: bytes, filename: str, kind: str | None = None) -> Roster:
    """A .xlsx workbook (sheets named by kind) or a .csv file (named by kind, or ``kind``)."""
    name = PurePath(filename).name
    suffix = PurePath(name).suffix.lower()
    if suffix == ".xlsx":
        tables = _xlsx_tables(data, name)
    elif suffix == ".csv":
        tables = [(None, _csv_rows(data, name))]
    else:
        raise KnowledgeFormatError([FormatProblem(name, None, None, "not a .xlsx or .csv file")])
    problems: list[FormatProblem] = []
    roster = Roster({}, {})
    for sheet_name, rows in tables:
        spec = _spec(name, sheet_name, rows, kind, len(tables), problems)
        if spec is None:
            continue
        target = KIND_OF[spec.kind]
        if target.file in roster.sheets:
            first = roster.sheets[target.file].name
            message = f"a second {spec.kind} sheet (first: {first})"
            problems.append(FormatProblem(name, None, None, message, sheet_name))
            continue
        sheet = Sheet(name, sheet_name)
        roster.parsed[target.file] = _read_sheet(sheet, spec, target, rows, problems)
        roster.sheets[target.file] = sheet
    if not roster.sheets and not problems:
        problems.append(FormatProblem(name, None, None, f"no sheet named {SHEET_NAMES}"))
    if problems:
        raise KnowledgeFormatError(problems)
    return roster


async def import_spreadsheet(
    session: AsyncSession, roster: Roster, progress: Progress | None = None, dry_run: bool = False
) -> ImportReport:
    """Check the references (against the roster and the stored knowledge), then upsert all in
    one transaction, as a JSON Lines import does; ``dry_run`` only counts."""
    if dangling := await dangling_references(session, roster.parsed):
        raise KnowledgeFormatError([roster.relocate(problem) for problem in dangling])
    return await import_parsed(session, roster.parsed, progress, dry_run)


def _spec(
    file: str,
    sheet_name: str | None,
    rows: list[Sequence[Any]],
    kind: str | None,
    tables: int,
    problems: list[FormatProblem],
) -> SheetSpec | None:
    """The kind a sheet holds, or None (a problem noted, or a sheet that is rightly skipped)."""
    if kind is not None and tables == 1:
        spec = spec_for(kind)
        if spec is None:
            problems.append(FormatProblem(file, None, None, f"unknown kind {kind!r}; use {SHEET_NAMES}"))
        return spec
    spec = spec_for(sheet_name if sheet_name is not None else PurePath(file).stem)
    if spec is not None:
        return spec
    if sheet_name is None:
        message = f"the file name does not say what it holds: call it experts.csv, 专家.csv, … ({SHEETS})"
        problems.append(FormatProblem(file, None, None, message))
    elif sheet_name.strip().lower() not in NOTES_SHEETS and any(not _blank(row) for row in rows):
        problems.append(FormatProblem(file, None, None, f"unknown sheet name; use {SHEET_NAMES}", sheet_name))
    return None


def _read_sheet(
    sheet: Sheet, spec: SheetSpec, kind: Kind[Any], rows: list[Sequence[Any]], problems: list[FormatProblem]
) -> list[tuple[int, Any]]:
    """The records of one sheet; its problems are added to ``problems``."""
    if not rows:
        return []
    columns, missing = _headers(sheet, spec, kind, rows[0], problems)
    records: list[tuple[int, Any]] = []
    first_row_of: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if _blank(row):
            continue
        raw, bad = _row_values(sheet, columns, row, number, problems)
        record, record_problems = validate_record(kind, raw, sheet.file, number)
        for problem in record_problems:
            field_name = (problem.field or "").split(".")[0]
            reported = field_name in missing and problem.message == "required field is missing"
            if field_name not in bad and not reported:
                problems.append(sheet.problem(number, field_name or None, problem.message))
        if record is None or bad:
            continue
        key = getattr(record, kind.key)
        if key in first_row_of:
            message = f"duplicate {kind.key} {key!r} (rows {first_row_of[key]} and {number})"
            problems.append(sheet.problem(number, kind.key, message))
            continue
        first_row_of[key] = number
        records.append((number, record))
    return records


Columns = list[tuple[int, str, Column | None]]  # (index, header as written, column or an extra)


def _headers(
    sheet: Sheet, spec: SheetSpec, kind: Kind[Any], header_row: Sequence[Any], problems: list[FormatProblem]
) -> tuple[Columns, set[str]]:
    """The columns the first row names, and the required fields no column gives."""
    columns: Columns = []
    seen: dict[str, str] = {}
    for index, cell in enumerate(header_row):
        if is_empty(cell):
            continue
        header = str(cell).strip()
        column = column_for(spec, header)
        name = column.field if column else header
        if name in seen and (column is None or column.join is None):
            message = f"a second column for {name} (first: {seen[name]})"
            problems.append(FormatProblem(sheet.file, 1, name, message, sheet.name, label(header, name)))
            continue
        seen.setdefault(name, header)
        columns.append((index, header, column))
        if column is not None:
            sheet.labels.setdefault(column.field, label(header, column.field))
    missing = set()
    for field_name, info in kind.record.model_fields.items():
        if info.is_required() and field_name not in sheet.labels:
            missing.add(field_name)
            column = next(c for c in spec.columns if c.field == field_name)
            sheet.labels[field_name] = label(written(column), field_name)
            problems.append(sheet.problem(1, field_name, "required column is missing"))
    return columns, missing


def _row_values(
    sheet: Sheet, columns: Columns, row: Sequence[Any], number: int, problems: list[FormatProblem]
) -> tuple[dict[str, Any], set[str]]:
    """A row as an interchange object, and the fields whose cells could not be read."""
    raw: dict[str, Any] = {}
    bad: set[str] = set()
    given = {index for index, _, _ in columns}
    for index, value in enumerate(row):
        if index not in given and not is_empty(value):
            message = "a value in a column without a header"
            problems.append(FormatProblem(sheet.file, number, None, message, sheet.name, _letter(index)))
    for index, header, column in columns:
        value = row[index] if index < len(row) else None
        if is_empty(value):
            continue
        if column is None:
            raw[header] = extra_value(value)
            continue
        try:
            converted = convert(column.type, value)
        except CellError as exc:
            bad.add(column.field)
            problems.append(sheet.problem(number, column.field, str(exc)))
            continue
        if converted is None:
            continue
        if column.join and column.field in raw:
            raw[column.field] = f"{raw[column.field]}{column.join}{converted}"
        else:
            raw[column.field] = converted
    return raw, bad


def _blank(row: Sequence[Any]) -> bool:
    return all(is_empty(value) for value in row)


def _letter(index: int) -> str:
    """A column's letter as Excel shows it (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _xlsx_tables(data: bytes, file: str) -> list[Table]:
    try:
        unpacked = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except zipfile.BadZipFile:
        raise _file_error(file, "not an Excel workbook (.xlsx)") from None
    if unpacked > MAX_UNPACKED_BYTES:
        message = f"unpacks to {unpacked // 2**20} MB, more than {MAX_UNPACKED_BYTES // 2**20} MB"
        raise _file_error(file, message)
    tables: list[Table] = []
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        for name in workbook.sheet_names:
            tables.append((name, list(workbook.get_sheet_by_name(name).to_python(skip_empty_area=False))))
    except Exception as exc:  # calamine raises its own error types for every kind of damage
        raise _file_error(file, f"not a readable workbook ({type(exc).__name__}: {exc})") from None
    return tables


def _csv_rows(data: bytes, file: str) -> list[Sequence[Any]]:
    """UTF-8 (with or without the BOM Excel writes), else GB18030 (Excel's "CSV" on a Chinese
    Windows)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise _file_error(file, "neither UTF-8 nor GBK text") from None
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise KnowledgeFormatError([FormatProblem(file, None, None, f"not valid CSV: {exc}")]) from None


def _file_error(file: str, message: str) -> KnowledgeFormatError:
    return KnowledgeFormatError([FormatProblem(file, None, None, message)])
