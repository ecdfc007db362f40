"""Print the help desk's statistics for a date range: questions, suggestions, tickets, ratings.

Example:
    python scripts/stats.py --since 2026-11-01 --until 2026-12-01

Dates without a time are midnight UTC; a full ISO time with an offset is also accepted
(``2026-11-01T00:00+08:00`` for midnight in Xuzhou). ``--since`` is inclusive, ``--until``
exclusive; weeks are ISO weeks in UTC. ``--json`` prints what ``GET /api/admin/stats`` returns.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from datetime import UTC, datetime
from typing import Any

from bot.runtime import database, run_cli
from bot.service.stats import compute_stats
from bot.settings import Settings

TOTALS = [
    ("questions", "问题数", "questions"),
    ("suggested", "推荐案例", "suggested"),
    ("solved_by_suggestion", "案例已解决", "solved by a suggestion"),
    ("not_solved", "案例未解决", "not solved by it"),
    ("rejected", "非技术问题", "rejected"),
    ("routed", "转给师傅", "routed"),
    ("tickets", "工单数", "tickets"),
    ("tickets_answered", "已解答", "answered"),
    ("tickets_closed", "已关闭", "closed"),
    ("tickets_open", "待解答", "open (no answer, not closed)"),
    ("median_first_response_minutes", "首次回复中位数(分钟)", "median first response (min)"),
    ("rating_average", "平均评分", "rating average"),
    ("ratings", "评分数", "ratings"),
]
GROUP_COLUMNS = [
    ("questions", "问题", "questions"),
    ("suggested", "推荐", "suggested"),
    ("solved_by_suggestion", "已解决", "solved"),
    ("routed", "转师傅", "routed"),
    ("tickets", "工单", "tickets"),
    ("tickets_answered", "已答", "answered"),
    ("tickets_closed", "关闭", "closed"),
    ("tickets_open", "待答", "open"),
    ("median_first_response_minutes", "首答(分)", "median min"),
    ("rating_average", "评分", "rating"),
]
SECTIONS = [
    ("by_site", "按站点", "by site", [("key", "代码", "code"), ("name", "名称", "name")]),
    ("by_region", "按地区", "by region", [("key", "地区", "region")]),
    ("by_industry", "按行业", "by industry", [("key", "行业", "industry")]),
]
EXPERT_COLUMNS = [
    ("key", "编号", "id"),
    ("name", "姓名", "name"),
    ("tickets", "工单", "tickets"),
    ("tickets_answered", "已答", "answered"),
    ("tickets_closed", "关闭", "closed"),
    ("median_first_response_minutes", "首答(分)", "median min"),
    ("rating_average", "评分", "rating"),
    ("ratings", "评分数", "ratings"),
]
WEEKLY_COLUMNS = [
    ("week", "周", "week"),
    ("questions", "问题", "questions"),
    ("suggested", "推荐", "suggested"),
    ("solved_by_suggestion", "已解决", "solved"),
    ("tickets", "工单", "tickets"),
    ("tickets_answered", "已答", "answered"),
]
UNANSWERED_COLUMNS = [
    ("count", "次数", "count"),
    ("oldest", "最早", "oldest"),
    ("site_codes", "站点", "sites"),
    ("text", "问题", "question"),
]


def moment(value: str) -> datetime:
    """An argparse type: an ISO date or time; without an offset it is UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date: {value!r} (expected e.g. 2026-11-01 or 2026-11-01T00:00+08:00)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python scripts/stats.py --since 2026-11-01 --until 2026-12-01",
    )
    parser.add_argument("--since", type=moment, help="first day counted (inclusive, UTC)")
    parser.add_argument("--until", type=moment, help="first day not counted (exclusive, UTC)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()
    if args.since and args.until and args.since >= args.until:
        parser.error("argument --since: must be before --until")
    return args


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(value) or "-"
    return str(value)


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> list[str]:
    """Rows under a two-line header (Chinese, English), columns padded by display width."""
    grid = [[zh for _, zh, _ in columns], [en for _, _, en in columns]]
    grid += [[cell(row[key]) for key, _, _ in columns] for row in rows]
    widths = [max(width(line[i]) for line in grid) for i in range(len(columns))]
    return [
        "  "
        + "  ".join(text + " " * (w - width(text)) for text, w in zip(line, widths, strict=True)).rstrip()
        for line in grid
    ]


def render(stats: dict[str, Any]) -> str:
    since, until = (stats["window"][k] or "…" for k in ("since", "until"))
    lines = [f"统计 Statistics  {since} → {until}", "", "总计 Totals"]
    lines += [f"  {cell(stats['totals'][key]):>6}  {zh} {en}" for key, zh, en in TOTALS]
    sections = [(key, zh, en, first + GROUP_COLUMNS) for key, zh, en, first in SECTIONS]
    sections += [
        ("by_expert", "按专家", "by expert", EXPERT_COLUMNS),
        ("weekly", "按周", "weekly", WEEKLY_COLUMNS),
        ("unanswered", "未获解答的问题", "never answered", UNANSWERED_COLUMNS),
    ]
    for key, zh, en, columns in sections:
        lines += ["", f"{zh} {en}"]
        lines += table(stats[key], columns) if stats[key] else ["  (无 none)"]
    return "\n".join(lines)


async def main(settings: Settings, args: argparse.Namespace) -> None:
    async with database(settings) as (_, sessions):
        async with sessions() as session:
            stats = await compute_stats(session, since=args.since, until=args.until)
    print(json.dumps(stats, ensure_ascii=False, indent=2) if args.json else render(stats))


if __name__ == "__main__":
    arguments = parse_args()
    run_cli(lambda settings: main(settings, arguments))
