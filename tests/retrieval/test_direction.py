"""Reading which way a quantity went, complements with 不 included (no model)."""

from __future__ import annotations

import pytest

from retrieval.direction import HIGH, LOW, direction_conflict, directions
from retrieval.text import normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("油压上不去", {"压力": {LOW}}),  # 上 in it, and it means low
        ("水温降不下来", {"温度": {HIGH}}),  # 降 in it, and it means high
        ("电流偏大，电压正常", {"电流": {HIGH}}),
        ("液位老是往下掉", {"液位": {LOW}}),
        ("转速不高 负载也不大", {"转速": {LOW}, "负荷": {LOW}}),
        ("排温有点高", {"温度": {HIGH}}),
        ("温度传感器掉线了", {}),  # 掉线 is a dropped connection, not a fall
        ("温度表装好了，声音很高", {}),  # 高 is in the next clause
        ("流量 0.5 左右上不去", {"流量": {LOW}}),
        ("大臂下沉", {}),  # no quantity named: nothing read
        ("高压报警", {}),  # high pressure as an attribute, not a reading
        ("空压机排气温度偏高", {"温度": {HIGH}}),  # 空压机 is a machine
        ("温度八十度", {}),  # a value, no direction
    ],
)
def test_directions(text: str, expected: dict[str, set[int]]):
    assert directions(normalize(text)) == expected


def test_conflict_only_when_the_case_never_says_the_same_way():
    up, down = directions("油压一直往上憋"), directions("油压上不去")
    assert direction_conflict(up, down)
    assert direction_conflict(down, up)
    assert not direction_conflict(up, directions("油压偏高，有时又上不去"))
    assert not direction_conflict(up, directions("水温上不去"))  # another quantity
    # 库温 and 温度 are both a temperature
    assert direction_conflict(directions("冷库温度太低"), directions("冷库库温降不下来"))
    assert not direction_conflict({}, down)
