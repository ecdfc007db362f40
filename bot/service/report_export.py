"""The union's report (``compute_report``) as files: an Excel workbook (sheets 汇总, 分组, 师傅)
and an A4 PDF with the same figures and a bar chart per figure.

The PDF is drawn with Pillow and a font with Chinese glyphs from the host, and saved as the QR
sheet is (``bot.service.qr_sheet``: ``find_cjk_font``, ``sheet_pdf``): 1-bit pages, crisp in
print, no PDF library needed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from PIL import Image, ImageDraw, ImageFont

from bot.service.qr_sheet import A4_MM, CjkFont, SheetPage, mm, sheet_pdf

DPI = 200
PROGRAMME = "劳模工匠助企行"
TITLE = "服务成效报告"
# the figures in the order the union reads them: (dotted key in the report, label)
FIGURES: tuple[tuple[str, str], ...] = (
    ("help_sessions", "帮扶服务（次）"),
    ("help_sessions_online", "　其中线上"),
    ("help_sessions_onsite", "　其中现场"),
    ("help_sessions_parts.tickets_answered", "　师傅解答工单"),
    ("help_sessions_parts.needs_helped", "　帮扶企业需求"),
    ("solved_onsite", "现场解决技术难题（个）"),
    ("solved_online", "线上解决问题（个）"),
    ("solved_online_parts.needs", "　企业需求线上解决"),
    ("solved_online_parts.tickets", "　工单解答后结束"),
    ("solved_online_parts.suggestions", "　工人确认案例解决"),
    ("training_attendances", "培训（人次）"),
    ("workers_reached", "覆盖职工（人）"),
    ("workers_reached_parts.askers", "　提问的职工（不同手机/聊天）"),
    ("workers_reached_parts.attendees", "　听课的职工（不同手机号）"),
    ("workers_reached_parts.need_workers", "　企业需求惠及职工"),
    ("anonymous_questions", "无法识别提问人的提问（条）"),
    ("first_response_minutes.median", "首次响应用时中位数（分钟）"),
    ("first_response_minutes.p90", "首次响应用时 90% 分位（分钟）"),
    ("resolution_minutes.median", "解决用时中位数（分钟）"),
    ("resolution_minutes.p90", "解决用时 90% 分位（分钟）"),
)
HEADLINES = (
    ("help_sessions", "帮扶服务", "次"),
    ("solved_onsite", "现场解决难题", "个"),
    ("training_attendances", "培训", "人次"),
    ("workers_reached", "覆盖职工", "人"),
)
ROW_COLUMNS = (
    ("help_sessions", "帮扶服务"),
    ("help_sessions_online", "线上"),
    ("help_sessions_onsite", "现场"),
    ("solved_onsite", "现场解决"),
    ("solved_online", "线上解决"),
    ("training_attendances", "培训人次"),
    ("workers_reached", "覆盖职工"),
    ("anonymous_questions", "匿名提问"),
    ("first_response_minutes.median", "首次响应中位数(分)"),
    ("resolution_minutes.median", "解决用时中位数(分)"),
)
EXPERT_COLUMNS = (
    ("name", "姓名"),
    ("answers", "解答工单"),
    ("needs_helped", "帮扶需求"),
    ("classes_taught", "授课"),
    ("total", "合计"),
)
CHARTS = (
    ("help_sessions", "帮扶服务（次）"),
    ("solved", "解决问题（个，现场＋线上）"),
    ("training_attendances", "培训（人次）"),
)
BREAKDOWN_NAMES = {"city": "全市", "county": "区县", "industry": "行业", "team": "团队", "station": "服务站"}
NOTE = (
    "帮扶服务＝期间内师傅首次解答的工单＋期间内办结的企业需求（含未解决的，按帮扶方式计线上或现场）；"
    "覆盖职工＝不同提问人＋不同听课手机号＋已解决需求填报的惠及职工数，三者无法互相去重。"
)


def value_at(figures: dict[str, Any], key: str) -> Any:
    """A figure by its dotted key (``first_response_minutes.median``)."""
    value: Any = figures
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def period_text(report: dict[str, Any]) -> str:
    period = report["period"]
    return f"{period['from']} 至 {period['to']}（{period['timezone']} 时间）"


def scope_text(report: dict[str, Any]) -> str:
    scope = report.get("scope")
    if scope is None:
        return "范围：全部"
    parts = [*scope["station_ids"], *scope["regions"]]
    return f"范围：{'、'.join(parts) or '无'}（{scope['sites']} 个站点）"


def duration(minutes: float | None) -> str:
    if minutes is None:
        return "—"
    if minutes < 120:
        return f"{minutes:g} 分钟"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} 小时"
    return f"{minutes / 1440:.1f} 天"


# ---- Excel --------------------------------------------------------------------------------------


def report_xlsx(report: dict[str, Any]) -> bytes:
    """The workbook: 汇总 (label, value, the figure's key), 分组 (a row per group), 师傅."""
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "汇总"
    summary.append([f"{PROGRAMME} {TITLE}"])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append(["期间", period_text(report)])
    summary.append(["", scope_text(report)])
    summary.append([])
    summary.append(["指标", "数值", "字段"])
    for key, label in FIGURES:
        summary.append([label.strip("　"), value_at(report["totals"], key), key])
    summary.append([])
    summary.append(["说明", NOTE])
    _widths(summary, [34, 40, 40])

    groups = book.create_sheet("分组")
    groups.append([BREAKDOWN_NAMES.get(report["by"], report["by"]), *(label for _, label in ROW_COLUMNS)])
    for row in report["rows"]:
        groups.append([row["label"], *(value_at(row, key) for key, _ in ROW_COLUMNS)])
    _widths(groups, [18] + [12] * len(ROW_COLUMNS))

    experts = book.create_sheet("师傅")
    experts.append(["排名", "编号", *(label for _, label in EXPERT_COLUMNS)])
    for rank, expert in enumerate(report["experts"], 1):
        experts.append([rank, expert["expert_id"], *(expert[key] for key, _ in EXPERT_COLUMNS)])
    _widths(experts, [8, 14, 14, 12, 12, 10, 10])
    for sheet in (summary, groups, experts):
        for cell in sheet[5 if sheet is summary else 1]:
            cell.font = Font(bold=True)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _widths(sheet: Any, widths: Sequence[int]) -> None:
    for i, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(i)].width = width


# ---- PDF ----------------------------------------------------------------------------------------


@dataclass
class _Pages:
    """A4 pages drawn top to bottom; a new page when the next block does not fit."""

    font: CjkFont
    dpi: int
    pages: list[SheetPage] = field(default_factory=list)
    y: int = 0

    def __post_init__(self) -> None:
        self.width, self.height = mm(A4_MM[0], self.dpi), mm(A4_MM[1], self.dpi)
        self.margin = mm(15, self.dpi)
        self.new_page()

    def new_page(self) -> None:
        self.pages.append(SheetPage(Image.new("L", (self.width, self.height), 255)))
        self.draw = ImageDraw.Draw(self.pages[-1].image)
        self.y = self.margin

    def room(self, height: int) -> None:
        if self.y + height > self.height - self.margin:
            self.new_page()

    def face(self, size_mm: float) -> ImageFont.FreeTypeFont:
        return self.font.at(mm(size_mm, self.dpi))

    def text(
        self, x: int, y: int, text: str, size_mm: float, bold: bool = False, anchor: str = "la"
    ) -> tuple[int, int, int, int]:
        face = self.face(size_mm)
        stroke = max(1, face.size // 30) if bold else 0
        self.draw.text((x, y), text, font=face, fill=0, anchor=anchor, stroke_width=stroke, stroke_fill=0)
        box = self.draw.textbbox((x, y), text, font=face, anchor=anchor, stroke_width=stroke)
        return int(box[0]), int(box[1]), int(box[2]), int(box[3])

    def heading(self, text: str) -> None:
        self.room(mm(20, self.dpi))
        self.y += mm(4, self.dpi)
        box = self.text(self.margin, self.y, text, 5, bold=True)
        self.y = box[3] + mm(3, self.dpi)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[float]) -> None:
        """Columns of the given shares of the page width; the first column left-aligned."""
        line = mm(6.5, self.dpi)
        inner = self.width - 2 * self.margin
        xs = [self.margin + round(inner * sum(widths[:i]) / sum(widths)) for i in range(len(widths) + 1)]
        for n, cells in enumerate([list(header), *[list(r) for r in rows]]):
            self.room(line)
            for i, cell in enumerate(cells):
                text = "—" if cell is None else str(cell)
                if i == 0:
                    self.text(xs[0], self.y, _fit(self, text, xs[1] - xs[0] - 10, 3.5), 3.5, bold=n == 0)
                else:
                    self.text(xs[i + 1] - 8, self.y, text, 3.5, bold=n == 0, anchor="ra")
            self.y += line
            if n == 0:
                self.draw.line(
                    [
                        (self.margin, self.y - mm(1.5, self.dpi)),
                        (self.width - self.margin, self.y - mm(1.5, self.dpi)),
                    ],
                    fill=0,
                    width=2,
                )

    def bars(self, title: str, rows: Sequence[tuple[str, float]]) -> None:
        """A horizontal bar per group: label, bar, value."""
        bar_h, gap = mm(5, self.dpi), mm(2, self.dpi)
        self.room(mm(10, self.dpi) + len(rows) * (bar_h + gap))
        self.text(self.margin, self.y, title, 4, bold=True)
        self.y += mm(7, self.dpi)
        label_w = round((self.width - 2 * self.margin) * 0.28)
        room = self.width - 2 * self.margin - label_w - mm(20, self.dpi)
        top = max([value for _, value in rows] + [1])
        for label, value in rows:
            self.room(bar_h + gap)
            self.text(
                self.margin + label_w - 12, self.y, _fit(self, label, label_w - 16, 3.5), 3.5, anchor="ra"
            )
            x0 = self.margin + label_w
            length = max(2, round(room * value / top)) if value else 2
            self.draw.rectangle([x0, self.y, x0 + length, self.y + bar_h - 4], fill=0)
            self.text(x0 + length + 10, self.y, f"{value:g}", 3.5)
            self.y += bar_h + gap
        self.y += mm(3, self.dpi)


def _fit(pages: _Pages, text: str, width: int, size_mm: float) -> str:
    """The text, cut with … to fit ``width`` pixels."""
    face = pages.face(size_mm)
    if pages.draw.textlength(text, font=face) <= width:
        return text
    while text and pages.draw.textlength(text + "…", font=face) > width:
        text = text[:-1]
    return text + "…"


def draw_report(report: dict[str, Any], font: CjkFont, dpi: int = DPI) -> list[SheetPage]:
    """The report's pages; ``pages[0].boxes[0]["title"]`` is where the title is (for checks)."""
    pages = _Pages(font, dpi)
    boxes: dict[str, tuple[int, int, int, int]] = {}
    left = pages.margin
    boxes["programme"] = pages.text(left, pages.y, PROGRAMME, 4.5)
    pages.y = boxes["programme"][3] + mm(2, dpi)
    boxes["title"] = pages.text(left, pages.y, TITLE, 9, bold=True)
    pages.y = boxes["title"][3] + mm(3, dpi)
    pages.text(left, pages.y, period_text(report), 4)
    pages.y += mm(7, dpi)
    pages.text(left, pages.y, scope_text(report), 3.5)
    pages.y += mm(9, dpi)
    totals = report["totals"]
    tile_w = (pages.width - 2 * left) // len(HEADLINES)
    for i, (key, label, unit) in enumerate(HEADLINES):
        x = left + i * tile_w
        pages.draw.rectangle([x + 6, pages.y, x + tile_w - 6, pages.y + mm(24, dpi)], outline=0, width=3)
        value = pages.text(x + tile_w // 2, pages.y + mm(3, dpi), f"{totals[key]}", 8, bold=True, anchor="ma")
        boxes[key] = value
        pages.text(x + tile_w // 2, pages.y + mm(15, dpi), f"{label}（{unit}）", 3.5, anchor="ma")
    pages.y += mm(30, dpi)
    pages.pages[0].boxes.append(boxes)

    pages.heading("汇总")
    shown = [(shown_label(label), shown_value(key, value_at(totals, key))) for key, label in FIGURES]
    pages.table(["指标", "数值"], shown, [3, 1])
    rows = report["rows"]
    pages.heading(f"按{BREAKDOWN_NAMES.get(report['by'], report['by'])}")
    for key, title in CHARTS:
        values = [
            (row["label"], row["solved_onsite"] + row["solved_online"] if key == "solved" else row[key])
            for row in rows
        ]
        pages.bars(title, values)
    pages.table(
        ["分组", *(label for _, label in ROW_COLUMNS[:8])],
        [[row["label"], *(value_at(row, key) for key, _ in ROW_COLUMNS[:8])] for row in rows],
        [2.4] + [1] * 8,
    )
    pages.heading("最活跃的师傅")
    pages.table(
        ["排名 姓名", *(label for _, label in EXPERT_COLUMNS[1:])],
        [
            [f"{n}. {e['name']}", *(e[key] for key, _ in EXPERT_COLUMNS[1:])]
            for n, e in enumerate(report["experts"], 1)
        ],
        [3, 1, 1, 1, 1],
    )
    pages.room(mm(20, dpi))
    pages.y += mm(4, dpi)
    for line in _lines(pages, NOTE, pages.width - 2 * left, 3):
        pages.text(left, pages.y, line, 3)
        pages.y += mm(5, dpi)
    return pages.pages


def shown_label(label: str) -> str:
    """A figure's label where times are shown with their unit (``duration``)."""
    return label.replace("（分钟）", "")


def shown_value(key: str, value: Any) -> str:
    if key.endswith(("median", "p90")):
        return duration(value)
    return "—" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _lines(pages: _Pages, text: str, width: int, size_mm: float) -> list[str]:
    face, lines, current = pages.face(size_mm), [], ""
    for ch in text:
        if pages.draw.textlength(current + ch, font=face) > width:
            lines.append(current)
            current = ""
        current += ch
    return [*lines, current] if current else lines


def report_pdf(report: dict[str, Any], font: CjkFont, dpi: int = DPI) -> bytes:
    return sheet_pdf(draw_report(report, font, dpi), dpi, title=f"craftdesk {TITLE}")
