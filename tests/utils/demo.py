"""How much the demo knowledge holds, read from its files: tests that count cases, experts or
sites keep passing when the demo grows."""

from __future__ import annotations

from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "knowledge" / "demo"


def _lines(name: str) -> int:
    return sum(1 for line in (DEMO / name).read_text(encoding="utf-8").splitlines() if line.strip())


DEMO_CASES = _lines("cases.jsonl")
DEMO_EXPERTS = _lines("experts.jsonl")
DEMO_SITES = _lines("sites.jsonl")
