"""A shift-start rush through the ask service: more concurrent questions than the connection
pool holds, with and without a site, the availability cache warm and cold. At 7:50 this once
deadlocked (the write gate was taken before a connection, while waiters held them all)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from knowledge.models import Question, Ticket

QUESTIONS = [
    "数控车床主轴异响，转速一高就响",
    "挖掘机动臂自己往下掉",
    "注塑机开模时模具咔咔响",
    "变压器轻瓦斯报警了怎么办",
    "食堂今天吃什么",
]
SITES = [None, "xcmg-hv-3", None, None]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


@pytest.mark.slow
async def test_a_rush_larger_than_the_pool_is_answered(context: Any):
    async def one(n: int) -> str:
        async with context.sessions() as session:
            result = await context.ask.ask(session, QUESTIONS[n % len(QUESTIONS)], SITES[n % len(SITES)])
        return result.outcome.decision

    await one(0)  # the availability cache is warm: the first query of a siteless ask is the write
    decisions = await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(80))), timeout=60)
    assert len(decisions) == 80
    async with context.sessions() as session:
        asked = await session.scalar(select(func.count()).select_from(Question))
        routed = await session.scalar(
            select(func.count()).select_from(Question).where(Question.decision.in_(("route", "confirm")))
        )
        tickets = await session.scalar(select(func.count()).select_from(Ticket))
    assert asked == 81
    assert tickets == routed  # every routed (or to-confirm) question got its ticket in the same call
