"""What a roster workbook's sheets and columns are called, in Chinese and English, and what kind
of cell each column holds (``docs/knowledge-format.md``, "Excel and CSV").

Kept apart from the reader and the writer so both use the very same table: a header the export
writes is one the import reads back.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

CellType = Literal["text", "code", "list", "codes", "bool", "int", "date", "level", "datetime"]


@dataclass(frozen=True)
class Column:
    field: str  # the interchange field (docs/knowledge-format.md)
    headers: tuple[str, ...]  # Chinese headers read; the first is the one written
    type: CellType = "text"
    note: str = ""  # what the 说明 sheet of the template says about it
    join: str | None = None  # several columns may fill this field, joined with this


@dataclass(frozen=True)
class SheetSpec:
    kind: str  # "experts": the interchange file without ".jsonl"
    names: tuple[str, ...]  # sheet names (Chinese first) and the CSV file names' stems
    columns: tuple[Column, ...]


TEAMS = SheetSpec(
    "teams",
    ("团队", "teams"),
    (
        Column("id", ("编号",), "code", "必填，唯一编号，如 T01；再次导入时按编号更新"),
        Column("name", ("名称",), note="必填，如 徐州市劳模工匠助企服务团"),
        Column("level", ("级别", "层级"), "level", "必填：市级、县区、行业 或 企业"),
        Column("region", ("地区",), note="如 铜山区"),
        Column("industries", ("行业",), "list", "多个用顿号「、」隔开"),
        Column("contact", ("联系人", "联系方式"), note="联系人和电话", join=" "),
    ),
)
STATIONS = SheetSpec(
    "stations",
    ("服务站", "stations"),
    (
        Column("id", ("编号",), "code", "必填，唯一编号，如 S01"),
        Column("name", ("名称",), note="必填，如 铜山区职工服务站"),
        Column("region", ("地区",), note="如 铜山区"),
        Column("contact", ("联系人", "联系方式"), note="联系人和电话", join=" "),
    ),
)
EXPERTS = SheetSpec(
    "experts",
    ("专家", "experts"),
    (
        Column("id", ("编号",), "code", "必填，唯一编号，如 E07；再次导入时按编号更新"),
        Column("name", ("姓名",), note="必填"),
        Column("title", ("称号", "职称", "荣誉"), note="如 全国劳动模范、高级技师", join="、"),
        Column("org", ("单位",), note="工作单位，如 徐工集团"),
        Column("region", ("所属区县", "区县", "地区"), note="如 邳州市、铜山区；市级团队填 徐州市"),
        Column("industries", ("行业",), "list", "多个用顿号「、」隔开"),
        Column("skills", ("专长", "技能"), "list", "必填，多个用顿号「、」隔开，如 变频器维修、电机维修"),
        Column("bio", ("简介",), note="几句话的事迹介绍"),
        Column("team_ids", ("团队",), "codes", "所在团队的编号（团队表），多个用顿号隔开"),
        Column("max_open_tickets", ("最多同时处理工单", "最多工单"), "int", "整数，不填为 5"),
        Column("active", ("在岗", "启用"), "bool", "是 或 否，不填为 是；停用后不再接新工单"),
        Column("telegram_id", (), "int", "绑定的 Telegram 账号（数字），一般不填"),
    ),
)
SITES = SheetSpec(
    "sites",
    ("站点", "sites"),
    (
        Column("code", ("编号", "代码"), "code", "必填，印在二维码里：3–32 位小写字母、数字或 -"),
        Column("name", ("名称", "车间"), note="必填，如 徐工重型 三号车间"),
        Column("org", ("单位",), note="所属企业"),
        Column("region", ("地区", "所属区县"), note="如 铜山区"),
        Column("industry", ("行业",), note="一个行业"),
        Column("station", ("服务站",), "code", "负责的服务站编号（服务站表）"),
        Column("active", ("启用",), "bool", "是 或 否，不填为 是；停用后二维码只显示“已停用”"),
    ),
)
CASES = SheetSpec(
    "cases",
    ("案例", "cases"),
    (
        Column("id", ("编号",), "code", "必填，唯一编号，如 K042"),
        Column("title", ("标题",), note="必填，简短的标题"),
        Column("question", ("问题",), note="必填，工人描述的问题"),
        Column("answer", ("解答", "答案"), note="必填，具体的解决步骤"),
        Column("industry", ("行业",), note="一个行业"),
        Column("tags", ("标签",), "list", "关键词，多个用顿号「、」隔开"),
        Column("expert_id", ("专家编号", "解答专家"), "code", "解答的专家编号（专家表）"),
        Column("created_at", ("日期", "创建日期"), "date", "日期，如 2024-05-01"),
    ),
)
CLASSES = SheetSpec(
    "classes",
    ("课程", "classes"),
    (
        Column("id", ("编号",), "code", "必填，唯一编号，如 C07；再次导入时按编号更新"),
        Column("title", ("课程名称", "标题"), note="必填，如 FANUC数控车床伺服报警诊断"),
        Column("kind", ("类型",), note="公开课（现场）或 云课堂（线上），不填为 公开课"),
        Column("teacher_id", ("授课专家", "专家编号"), "code", "授课专家的编号（专家表）"),
        Column("starts_at", ("开始时间", "时间"), "datetime", "必填，如 2027-01-16 14:00（北京时间）"),
        Column("minutes", ("时长", "分钟数"), "int", "整数，单位：分钟，不填为 90"),
        Column("place", ("地点",), note="公开课的地址"),
        Column("online_url", ("线上链接", "直播链接"), note="云课堂的 http(s) 链接"),
        Column("topics", ("主题", "关键词"), "list", "多个用顿号「、」隔开，如 数控车床、伺服报警"),
        Column(
            "description",
            ("简介", "内容"),
            note="几句话：讲什么设备、解决哪些问题；工人提问时按课程名称、主题和简介推荐相关课程，没有简介的课程较难被推荐",
        ),
        Column("capacity", ("名额",), "int", "整数；不填为不限名额"),
        Column("recording_url", ("回放链接", "录像链接"), note="课后填写 http(s) 链接，报名的人会收到"),
        Column("station_id", ("服务站",), "code", "负责的服务站编号（服务站表）"),
        Column("region", ("地区",), note="如 铜山区"),
        Column("active", ("开课", "启用"), "bool", "是 或 否，不填为 是；否 表示课程已取消"),
    ),
)
# in the order the import writes them (each refers only to sheets before it)
SPECS: tuple[SheetSpec, ...] = (TEAMS, STATIONS, EXPERTS, SITES, CASES, CLASSES)
NOTES_SHEETS = ("说明", "notes")  # the template's explanations: never imported

LEVELS = {"市级": "city", "县区": "county", "区县": "county", "县级": "county", "行业": "industry"}
LEVELS |= {"企业": "enterprise"} | {level: level for level in ("city", "county", "industry", "enterprise")}
LEVEL_NAMES = {"city": "市级", "county": "县区", "industry": "行业", "enterprise": "企业"}

_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_LABELLED = re.compile(r"^(?P<text>.*?)\s*\((?P<field>[a-z_]+)\)$")


def ascii_width(text: str) -> str:
    """Full-width letters, digits, punctuation and spaces as ASCII (ｅ０７ → e07); Chinese kept."""
    return text.translate(_FULL_WIDTH).strip()


def spec_for(name: str) -> SheetSpec | None:
    """The sheet spec named by a sheet name or a CSV file's stem (专家, Experts, experts)."""
    wanted = ascii_width(name).lower()
    return next((spec for spec in SPECS if wanted in spec.names), None)


def column_for(spec: SheetSpec, header: str) -> Column | None:
    """The column a header names: a Chinese header, the field name, or both ("专长 (skills)")."""
    text = unicodedata.normalize("NFKC", header).strip()
    labelled = _LABELLED.match(text)
    if labelled and any(c.field == labelled["field"] for c in spec.columns):
        text = labelled["field"]
    return next((c for c in spec.columns if text.lower() == c.field or text in c.headers), None)


def label(header: str, field: str) -> str:
    """How a problem names a column: the header as written and the field ("专长 (skills)")."""
    if header == field or header.endswith(f"({field})"):
        return header
    return f"{header} ({field})"


def written_header(column: Column) -> str:
    """The header the export and the template write."""
    return column.headers[0] if column.headers else column.field
