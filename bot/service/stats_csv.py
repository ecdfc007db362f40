"""The union's figures (``compute_stats``) as a CSV file Excel opens as it is: UTF-8 with a BOM
(without it Excel reads the Chinese as the local code page), CRLF line ends, one table after
another separated by an empty line, each under a title row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

BOM = "\ufeff"

TOTALS = (
    ("questions", "提问总数"),
    ("suggested", "推荐了案例"),
    ("confirmed", "待师傅确认案例"),
    ("rejected", "非技术问题"),
    ("routed", "直接转师傅"),
    ("solved_by_suggestion", "案例直接解决"),
    ("not_solved", "案例没解决"),
    ("tickets", "转师傅工单"),
    ("tickets_answered", "已解答工单"),
    ("tickets_closed", "已结束工单"),
    ("tickets_open", "未解答工单"),
    ("median_first_response_minutes", "首次回复中位数（分钟）"),
    ("rating_average", "平均评分"),
    ("ratings", "评分次数"),
)
WEEKLY = (
    ("questions", "提问数"),
    ("suggested", "推荐了案例"),
    ("solved_by_suggestion", "案例直接解决"),
    ("tickets", "转师傅工单"),
    ("tickets_answered", "已解答工单"),
)
GROUP_FIELDS = (
    "questions",
    "solved_by_suggestion",
    "tickets",
    "tickets_answered",
    "median_first_response_minutes",
    "rating_average",
)
EXPERT_FIELDS = (
    "tickets",
    "tickets_answered",
    "tickets_closed",
    "median_first_response_minutes",
    "rating_average",
)
GROUPS = (
    ("by_site", "各车间（站点）", "站点编号"),
    ("by_region", "各地区", "地区"),
    ("by_industry", "各行业", "行业"),
    ("by_expert", "各位师傅", "师傅编号"),
)
LABELS = dict(TOTALS)
UNKNOWN = "未填写"


def week_days(week: str) -> tuple[date, date]:
    """The Monday and Sunday of an ISO week key such as ``2026-W49`` (``stats.iso_week``)."""
    year, _, number = week.partition("-W")
    monday = date.fromisocalendar(int(year), int(number), 1)
    return monday, date.fromisocalendar(int(year), int(number), 7)


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _table(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    return [[title], list(header), *[[_cell(v) for v in row] for row in rows], []]


def stats_csv(report: dict[str, Any]) -> str:
    """The CSV text (BOM first) of a ``compute_stats`` report."""
    window = report.get("window") or {}
    lines: list[list[Any]] = [
        ["劳模工匠在线答疑 统计"],
        ["起始时间（UTC）", window.get("since") or "不限"],
        ["截止时间（UTC，不含）", window.get("until") or "不限"],
        [],
    ]
    totals = report["totals"]
    lines += _table("总计", ["指标", "数值"], [(label, totals.get(key)) for key, label in TOTALS])
    weekly = []
    for w in report["weekly"]:
        monday, sunday = week_days(w["week"])
        weekly.append([w["week"], monday.isoformat(), sunday.isoformat(), *(w.get(k) for k, _ in WEEKLY)])
    header = ["周", "开始日期", "结束日期", *(label for _, label in WEEKLY)]
    lines += _table("每周（周一至周日）", header, weekly)
    for key, title, key_label in GROUPS:
        fields = EXPERT_FIELDS if key == "by_expert" else GROUP_FIELDS
        named = key in ("by_site", "by_expert")
        header = [key_label, *(["名称"] if named else []), *(LABELS[f] for f in fields)]
        rows = [
            [g["key"] or UNKNOWN, *([g.get("name") or ""] if named else []), *(g.get(f) for f in fields)]
            for g in report.get(key, [])
        ]
        lines += _table(title, header, rows)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(lines)
    return BOM + buffer.getvalue()
