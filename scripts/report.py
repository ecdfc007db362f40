"""Print the union's report for a period: help sessions, problems solved, training attendances,
workers reached, response times and the most active experts, in total and per group.

Example:
    python scripts/report.py --from 2026-10-01 --to 2026-12-31 --by county

The dates are local days, both included, in CRAFTDESK_REPORT_TIMEZONE (Asia/Shanghai). How
each figure is counted: docs/api.md, "The report". ``--station``/``--region`` narrow it to what
a steward of those stations and regions sees (both may be given, and repeated). ``--format``
json prints what ``GET /api/admin/report`` returns; xlsx and pdf need ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.runtime import database, run_cli
from bot.service.qr_sheet import find_cjk_font
from bot.service.report import BREAKDOWNS, MAX_DAYS, compute_report, covering, parse_day
from bot.service.report_export import (
    FIGURES,
    ROW_COLUMNS,
    period_text,
    report_pdf,
    report_xlsx,
    shown_label,
    shown_value,
    value_at,
)
from bot.settings import Settings
from knowledge.errors import InvalidInputError
from knowledge.models import Station

FORMATS = ("text", "json", "xlsx", "pdf")
EXAMPLE = (
    "example: python scripts/report.py --from 2026-10-01 --to 2026-12-31 --by county"
    " --format xlsx --out q4.xlsx"
)


def day(name: str) -> Callable[[str], date]:
    """An argparse type: a YYYY-MM-DD date, named in the error."""

    def parse(value: str) -> date:
        try:
            return parse_day(value, name)
        except InvalidInputError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{name}: ")) from None

    return parse


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=EXAMPLE)
    parser.add_argument("--from", dest="start", type=day("from"), required=True, help="first day (local)")
    parser.add_argument("--to", dest="end", type=day("to"), required=True, help="last day (local, included)")
    parser.add_argument("--by", choices=BREAKDOWNS, default="city", help="the breakdown (default: city)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="default: a table")
    parser.add_argument("--out", type=Path, help="write to this file instead of printing")
    parser.add_argument("--station", action="append", default=[], metavar="ID", help="only this station's")
    parser.add_argument("--region", action="append", default=[], metavar="R", help="only this region's")
    args = parser.parse_args()
    if args.start > args.end:
        parser.error(f"argument --from: {args.start} is after --to {args.end}")
    if (days := (args.end - args.start).days + 1) > MAX_DAYS:
        parser.error(f"argument --to: the period is {days} days long; at most {MAX_DAYS}")
    if args.format in ("xlsx", "pdf") and args.out is None:
        parser.error(f"argument --out: needed for --format {args.format}")
    return args


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, size: int, right: bool = False) -> str:
    space = " " * (size - width(text))
    return space + text if right else text + space


def cell(value: Any) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def render(report: dict[str, Any]) -> str:
    lines = [f"服务成效报告 Report  {period_text(report)}", ""]
    if report["scope"] is not None:
        scope = report["scope"]
        lines += [
            f"范围 scope: {'、'.join(scope['station_ids'] + scope['regions'])} ({scope['sites']} sites)",
            "",
        ]
    lines.append("总计 Totals")
    labels = [shown_label(label) for _, label in FIGURES]
    for (key, _), label in zip(FIGURES, labels, strict=True):
        shown = shown_value(key, value_at(report["totals"], key))
        lines.append(f"  {pad(label, max(map(width, labels)))}  {pad(shown, 10, right=True)}")
    header = ["分组 group", *(label for _, label in ROW_COLUMNS)]
    grid = [header] + [
        [row["label"], *(cell(value_at(row, key)) for key, _ in ROW_COLUMNS)] for row in report["rows"]
    ]
    widths = [max(width(line[i]) for line in grid) for i in range(len(header))]
    lines += ["", f"分组 Rows (by {report['by']})"]
    for line in grid:
        lines.append(
            "  "
            + "  ".join(pad(t, w, right=i > 0) for i, (t, w) in enumerate(zip(line, widths, strict=True)))
        )
    lines += ["", "最活跃的师傅 Most active experts"]
    for n, e in enumerate(report["experts"], 1):
        lines.append(
            f"  {n:>2}. {pad(e['name'], 10)} 解答 {e['answers']}  帮扶需求 {e['needs_helped']}  "
            f"授课 {e['classes_taught']}  合计 {e['total']}"
        )
    if not report["experts"]:
        lines.append("  (无 none)")
    return "\n".join(lines)


async def main(settings: Settings, args: argparse.Namespace) -> None:
    async with database(settings) as (_, sessions):
        async with sessions() as session:
            known = set(await session.scalars(select(Station.id)))
            if unknown := [s for s in args.station if s not in known]:
                raise InvalidInputError(f"--station: no station {', '.join(map(repr, unknown))}")
            scope = (
                await covering(session, args.station, args.region) if args.station or args.region else None
            )
            report = await compute_report(session, args.start, args.end, settings.report_zone, args.by, scope)
    if args.format == "xlsx":
        content: bytes | str = report_xlsx(report)
    elif args.format == "pdf":
        content = report_pdf(report, find_cjk_font())
    elif args.format == "json":
        content = json.dumps(report, ensure_ascii=False, indent=2)
    else:
        content = render(report)
    if args.out is None:
        print(content)
    elif isinstance(content, bytes):
        args.out.write_bytes(content)
    else:
        args.out.write_text(content + "\n", encoding="utf-8")
    if args.out is not None:
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    arguments = parse_args()
    run_cli(lambda settings: main(settings, arguments))
