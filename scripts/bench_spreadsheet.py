"""Time reading a roster workbook with openpyxl and with python-calamine (the import's reader).

Example:
    python scripts/bench_spreadsheet.py --rows 5000 --repeat 7

Writes a generated expert roster (Chinese headers, the columns a steward fills in) with openpyxl,
then reads every cell back with each library, and runs the whole import read
(``knowledge.spreadsheet.read_spreadsheet``: cells converted, every row validated). Prints the
medians as a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from typing import Any

from openpyxl import Workbook, load_workbook
from python_calamine import CalamineWorkbook

from knowledge.spreadsheet import read_spreadsheet

HEADERS = ["编号", "姓名", "称号", "单位", "所属区县", "行业", "专长", "简介", "最多同时处理工单", "在岗"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python scripts/bench_spreadsheet.py --rows 5000 --repeat 7",
    )
    parser.add_argument("--rows", type=int, default=5000, help="experts in the roster (default 5000)")
    parser.add_argument("--repeat", type=int, default=7, help="runs per reader; the median is shown")
    return parser.parse_args()


def roster(rows: int) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("专家")
    sheet.append(HEADERS)
    for n in range(rows):
        sheet.append(
            [
                f"E{n:05d}",
                f"专家{n}",
                "高级技师",
                "徐工集团",
                "铜山区",
                "工程机械与智能制造",
                "液压系统维修、PLC编程与调试、焊接",
                "从事工程机械装配调试与售后技术服务三十余年，主持编写液压故障诊断手册。",
                n % 7,
                "是" if n % 5 else "否",
            ]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def with_openpyxl(data: bytes) -> int:
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    cells = sum(len(row) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True))
    workbook.close()
    return cells


def with_calamine(data: bytes) -> int:
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    sheets = [workbook.get_sheet_by_name(name).to_python() for name in workbook.sheet_names]
    return sum(len(row) for rows in sheets for row in rows)


def import_read(data: bytes) -> int:
    return len(read_spreadsheet(data, "roster.xlsx").parsed["experts.jsonl"])


def median_seconds(run: Callable[[bytes], Any], data: bytes, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run(data)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    args = parse_args()
    data = roster(args.rows)
    assert with_openpyxl(data) == with_calamine(data), "the readers disagree on the cells"
    print(f"{args.rows} experts, {len(data) / 1024:.0f} KB, median of {args.repeat} runs\n")
    print("| read | median |\n|---|---|")
    for name, run in (
        ("openpyxl 3.1 (read_only, values only)", with_openpyxl),
        ("python-calamine", with_calamine),
        ("whole import read with calamine (cells converted, rows validated)", import_read),
    ):
        print(f"| {name} | {median_seconds(run, data, args.repeat) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
