"""Which way a reading has gone: "压力上不去" (stays low) against "压力往上憋" (goes high).

A look-alike case often names the same machine and the same quantity as the question, with the
fault the other way round. The words alone do not show it: 上不去 ("cannot go up") has the
character 上 and means low; 降不下来 ("cannot come down") has 降 and means high. This reads,
clause by clause, each physical quantity a text names and the direction said of it right after,
by the general grammar of Chinese directional complements (V + 不 + 上去/下来 inverts V) and the
common words for too high / too low. The word lists are general language, not taken from the
knowledge base or any evaluation set.
"""

from __future__ import annotations

import re

from retrieval.text import clauses

HIGH, LOW = 1, -1

# Physical quantities a reading is taken of, as shop-floor Chinese names them, each with the
# kind it is compared by (油温 and 温度 are both a temperature).
QUANTITIES = {
    "压力": "压力",
    "压差": "压差",
    "电压": "电压",
    "电流": "电流",
    "温度": "温度",
    "温升": "温度",
    "转速": "转速",
    "速度": "速度",
    "液位": "液位",
    "水位": "液位",
    "油位": "液位",
    "料位": "液位",
    "真空度": "真空",
    "真空": "真空",
    "流量": "流量",
    "风量": "流量",
    "负荷": "负荷",
    "负载": "负荷",
    "振动": "振动",
    "噪音": "噪音",
    "阻抗": "电阻",
    "电阻": "电阻",
    "湿度": "湿度",
    "浓度": "浓度",
    "粘度": "粘度",
    "张力": "张力",
    "扭矩": "扭矩",
    "功率": "功率",
    "频率": "频率",
    "读数": "读数",
    "间隙": "间隙",
    "油耗": "油耗",
    "电耗": "电耗",
    "产量": "产量",
    "效率": "效率",
}
# The temperature or pressure of something: 油温, 库温, 排温; 油压, 气压, 残压. Not a part or a
# machine (压机, 压缩, 压板, 温控) and not high/low as an attribute (高压, 低压, 中温).
_OF_SOMETHING = r"[^\W\d高低中常超恒保加减温压a-z](?:温(?![控度升])|压(?![力差缩机板块头紧装接制]))"

# Longest first where one contains another; a complement with 不 comes before the bare verb.
_EXPRESSIONS = (
    # cannot come down / cannot go down: it stays high
    ("降不下来", HIGH),
    ("降不下去", HIGH),
    ("下不来", HIGH),
    ("下不去", HIGH),
    ("居高不下", HIGH),
    # cannot go up / cannot be raised: it stays low
    ("升不上去", LOW),
    ("升不上来", LOW),
    ("升不起来", LOW),
    ("打不上去", LOW),
    ("打不上来", LOW),
    ("抽不上去", LOW),
    ("上不去", LOW),
    ("上不来", LOW),
    ("起不来", LOW),
    ("建不起来", LOW),
    # negated plain adjectives
    ("不高", LOW),
    ("不低", HIGH),
    ("不大", LOW),
    ("不小", HIGH),
    ("不够", LOW),
    ("不足", LOW),
    # too high / rising
    ("偏高", HIGH),
    ("过高", HIGH),
    ("太高", HIGH),
    ("超高", HIGH),
    ("升高", HIGH),
    ("上升", HIGH),
    ("上涨", HIGH),
    ("变高", HIGH),
    ("增大", HIGH),
    ("变大", HIGH),
    ("偏大", HIGH),
    ("过大", HIGH),
    ("太大", HIGH),
    ("超标", HIGH),
    ("超限", HIGH),
    ("往上", HIGH),
    ("高", HIGH),
    ("大", HIGH),
    ("涨", HIGH),
    ("憋", HIGH),
    # too low / falling
    ("偏低", LOW),
    ("过低", LOW),
    ("太低", LOW),
    ("降低", LOW),
    ("下降", LOW),
    ("变低", LOW),
    ("减小", LOW),
    ("变小", LOW),
    ("偏小", LOW),
    ("过小", LOW),
    ("太小", LOW),
    ("往下掉", LOW),
    ("到零", LOW),
    ("为零", LOW),
    ("低", LOW),
    ("掉了", LOW),
    ("掉到", LOW),
    ("小", LOW),
)
_QUANTITY = re.compile("|".join(sorted(QUANTITIES, key=len, reverse=True)) + "|" + _OF_SOMETHING)
_EXPRESSION = re.compile("|".join(re.escape(e) for e, _ in _EXPRESSIONS))
_DIRECTION = dict(_EXPRESSIONS)
WINDOW = 12  # characters after a quantity in which its direction is said (a value may come first)
NEAR = 4  # a one-character word (高, 小) counts only this close to its quantity


def directions(text: str) -> dict[str, set[int]]:
    """Each kind of quantity ``text`` (normalized) says has gone HIGH or LOW, with the direction(s)
    said of it: the first expression within WINDOW characters after the quantity (NEAR for a
    one-character one), before the next quantity of the same clause."""
    found: dict[str, set[int]] = {}
    for clause in clauses(text):
        spots = list(_QUANTITY.finditer(clause))
        for i, spot in enumerate(spots):
            end = spots[i + 1].start() if i + 1 < len(spots) else len(clause)
            after = clause[spot.end() : min(end, spot.end() + WINDOW)]
            said = next(
                (m for m in _EXPRESSION.finditer(after) if len(m.group()) > 1 or m.start() < NEAR), None
            )
            if said:
                found.setdefault(_kind(spot.group()), set()).add(_DIRECTION[said.group()])
    return found


def _kind(quantity: str) -> str:
    if quantity in QUANTITIES:
        return QUANTITIES[quantity]
    return "温度" if quantity.endswith("温") else "压力"


def direction_conflict(query: dict[str, set[int]], case: dict[str, set[int]]) -> bool:
    """The question says a quantity went one way and the case only ever the other way."""
    return any(quantity in case and not (sides & case[quantity]) for quantity, sides in query.items())
