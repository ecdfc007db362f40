"""Statistics on a known set of questions and tickets, on SQLite and PostgreSQL; the script once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.runtime import database
from bot.service.stats import compute_stats
from bot.settings import Settings
from knowledge.errors import InvalidInputError
from knowledge.models import Expert, Question, Site, Ticket
from tests.conftest import REPO

SINCE = datetime(2026, 11, 16, tzinfo=UTC)  # Monday of ISO week 47
UNTIL = datetime(2026, 11, 30, tzinfo=UTC)  # Monday of ISO week 49 (excluded)
W47, W48 = SINCE, datetime(2026, 11, 23, tzinfo=UTC)
STUCK = "变频器 报警 E07"


def at(monday: datetime, day: int, hour: int = 8, minute: int = 0) -> datetime:
    return monday + timedelta(days=day, hours=hour, minutes=minute)


def question(
    id: str, site: str | None, decision: str, asked_at: datetime, solved: bool | None = None
) -> Question:
    return Question(
        id=id, text=f"问题{id}", site_code=site, decision=decision, asked_at=asked_at, solved=solved
    )


def ticket(
    id: str,
    site: str | None,
    expert: str | None,
    status: str,
    created_at: datetime,
    answer_after: float | None = None,
    rating: int | None = None,
    text: str | None = None,
) -> Ticket:
    first = created_at + timedelta(minutes=answer_after) if answer_after is not None else None
    return Ticket(
        id=id,
        token_hash=id * 4,
        text=text or f"工单{id}",
        site_code=site,
        status=status,
        expert_id=expert,
        created_at=created_at,
        first_answer_at=first,
        answered_at=first,
        rating=rating,
        closed_at=created_at + timedelta(days=1) if status == "closed" else None,
    )


async def seed(session: AsyncSession) -> None:
    """Three sites in two regions (one with no industry), three experts, nine questions and six
    tickets in the window; one question and two tickets outside it."""
    session.add_all(
        [
            Site(code="xcmg-3", name="徐工重型 三号车间", region="铜山区", industry="工程机械"),
            Site(code="xcmg-5", name="徐工五号车间", region="铜山区", industry=None),
            Site(code="power-1", name="徐州电厂 一号机组", region="鼓楼区", industry="电力"),
            Expert(id="E01", name="王师傅", region="铜山区", industries=["工程机械"]),
            Expert(id="E02", name="李师傅", region="铜山区", industries=["工程机械"]),
            Expert(id="E03", name="张师傅", region="鼓楼区", industries=["电力"]),
        ]
    )
    await session.flush()
    session.add_all(
        [
            question("q1", "xcmg-3", "suggest", SINCE, solved=True),  # exactly at since: counted
            question("q2", "xcmg-3", "suggest", at(W47, 1), solved=False),
            question("q3", "xcmg-3", "route", at(W47, 2)),
            question("q4", "xcmg-5", "suggest", at(W47, 6, 23, 59)),
            question("q5", "xcmg-5", "reject", W48),  # first instant of week 48
            question("q6", "power-1", "route", at(W48, 1)),
            question("q7", "power-1", "suggest", at(W48, 2), solved=True),
            question("q8", None, "route", at(W48, 3)),
            question("q9", None, "reject", at(W48, 4)),
            question("q10", "power-1", "suggest", UNTIL, solved=True),  # exactly at until: not counted
        ]
    )
    session.add_all(
        [
            ticket("t1", "xcmg-3", "E01", "closed", at(W47, 1), answer_after=10, rating=5),
            ticket("t2", "xcmg-3", "E01", "answered", at(W47, 2), answer_after=20),
            ticket("t3", "power-1", "E03", "closed", at(W48, 1), answer_after=40, rating=3),
            ticket("t4", None, None, "open", at(W48, 3), text="  变频器  报警 E07 "),
            ticket("t5", "xcmg-5", "E02", "assigned", at(W48, 4), text="变频器 报警\nE07"),
            ticket("t6", "power-1", "E03", "closed", at(W48, 5), text="锅炉给水泵 振动大"),
            ticket("t7", "xcmg-3", "E01", "closed", SINCE - timedelta(minutes=1), answer_after=100, rating=1),
            ticket("t8", "xcmg-5", None, "open", at(UNTIL, 0), text=STUCK),
        ]
    )
    await session.commit()


def figures(
    questions: int = 0,
    suggested: int = 0,
    rejected: int = 0,
    routed: int = 0,
    confirmed: int = 0,
    solved: int = 0,
    not_solved: int = 0,
    tickets: int = 0,
    answered: int = 0,
    closed: int = 0,
    open: int = 0,
    median: float | None = None,
    rating: float | None = None,
    ratings: int = 0,
) -> dict[str, object]:
    return {
        "questions": questions,
        "suggested": suggested,
        "confirmed": confirmed,
        "rejected": rejected,
        "routed": routed,
        "solved_by_suggestion": solved,
        "not_solved": not_solved,
        "tickets": tickets,
        "tickets_answered": answered,
        "tickets_closed": closed,
        "tickets_open": open,
        "median_first_response_minutes": median,
        "rating_average": rating,
        "ratings": ratings,
    }


TOTALS = figures(
    9,
    suggested=4,
    rejected=2,
    routed=3,
    solved=2,
    not_solved=1,
    tickets=6,
    answered=3,
    closed=3,
    open=2,
    median=20.0,
    rating=4.0,
    ratings=2,
)
SITE_XCMG3 = figures(
    3,
    suggested=2,
    routed=1,
    solved=1,
    not_solved=1,
    tickets=2,
    answered=2,
    closed=1,
    median=15.0,
    rating=5.0,
    ratings=1,
)
SITE_XCMG5 = figures(2, suggested=1, rejected=1, tickets=1, open=1)
SITE_POWER = figures(
    2, suggested=1, routed=1, solved=1, tickets=2, answered=1, closed=2, median=40.0, rating=3.0, ratings=1
)
NO_SITE = figures(2, rejected=1, routed=1, tickets=1, open=1)


@pytest.fixture
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    async with sessions() as session:
        await seed(session)
    return sessions


async def window_stats(sessions: async_sessionmaker[AsyncSession], **kwargs: object) -> dict:
    async with sessions() as session:
        return await compute_stats(session, **({"since": SINCE, "until": UNTIL} | kwargs))


async def test_totals_median_and_ratings(seeded):
    stats = await window_stats(seeded)
    assert stats["window"] == {"since": "2026-11-16T00:00:00+00:00", "until": "2026-11-30T00:00:00+00:00"}
    assert stats["totals"] == TOTALS
    json.dumps(stats)  # JSON-ready as it is


async def test_by_site_region_and_industry(seeded):
    stats = await window_stats(seeded)
    assert stats["by_site"] == [
        {"key": "power-1", "name": "徐州电厂 一号机组"} | SITE_POWER,
        {"key": "xcmg-3", "name": "徐工重型 三号车间"} | SITE_XCMG3,
        {"key": "xcmg-5", "name": "徐工五号车间"} | SITE_XCMG5,
        {"key": None, "name": None} | NO_SITE,
    ]
    assert stats["by_region"] == [
        {"key": "铜山区"}
        | figures(
            5,
            suggested=3,
            rejected=1,
            routed=1,
            solved=1,
            not_solved=1,
            tickets=3,
            answered=2,
            closed=1,
            open=1,
            median=15.0,
            rating=5.0,
            ratings=1,
        ),
        {"key": "鼓楼区"} | SITE_POWER,
        {"key": None} | NO_SITE,
    ]
    assert stats["by_industry"] == [
        {"key": "工程机械"} | SITE_XCMG3,
        {"key": "电力"} | SITE_POWER,
        {"key": None} | figures(4, suggested=1, rejected=2, routed=1, tickets=2, open=2),
    ]


async def test_by_expert_and_weekly(seeded):
    stats = await window_stats(seeded)
    assert stats["by_expert"] == [
        {
            "key": "E01",
            "name": "王师傅",
            "tickets": 2,
            "tickets_answered": 2,
            "tickets_closed": 1,
            "median_first_response_minutes": 15.0,
            "rating_average": 5.0,
            "ratings": 1,
        },
        {
            "key": "E02",
            "name": "李师傅",
            "tickets": 1,
            "tickets_answered": 0,
            "tickets_closed": 0,
            "median_first_response_minutes": None,
            "rating_average": None,
            "ratings": 0,
        },
        {
            "key": "E03",
            "name": "张师傅",
            "tickets": 2,
            "tickets_answered": 1,
            "tickets_closed": 2,
            "median_first_response_minutes": 40.0,
            "rating_average": 3.0,
            "ratings": 1,
        },
        {
            "key": None,
            "name": None,
            "tickets": 1,
            "tickets_answered": 0,
            "tickets_closed": 0,
            "median_first_response_minutes": None,
            "rating_average": None,
            "ratings": 0,
        },
    ]
    assert stats["weekly"] == [
        {
            "week": "2026-W47",
            "questions": 4,
            "suggested": 3,
            "solved_by_suggestion": 1,
            "tickets": 2,
            "tickets_answered": 2,
        },
        {
            "week": "2026-W48",
            "questions": 5,
            "suggested": 1,
            "solved_by_suggestion": 1,
            "tickets": 4,
            "tickets_answered": 1,
        },
    ]
    assert json.dumps(stats["by_expert"][0]["rating_average"]) == "5.0"  # a float, not 5


async def test_unanswered_grouped_by_text_modulo_whitespace(seeded):
    stats = await window_stats(seeded)
    assert stats["unanswered"] == [
        {"text": STUCK, "count": 2, "site_codes": ["xcmg-5"], "oldest": "2026-11-26T08:00:00+00:00"},
        {
            "text": "锅炉给水泵 振动大",
            "count": 1,
            "site_codes": ["power-1"],
            "oldest": "2026-11-28T08:00:00+00:00",
        },
    ]
    top = await window_stats(seeded, top_unanswered=1)
    assert [row["text"] for row in top["unanswered"]] == [STUCK]


async def test_window_filter(seeded):
    everything = await window_stats(seeded, since=None, until=None)
    assert everything["window"] == {"since": None, "until": None}
    assert everything["totals"] == TOTALS | {
        "questions": 10,
        "suggested": 5,
        "solved_by_suggestion": 3,
        "tickets": 8,
        "tickets_answered": 4,
        "tickets_closed": 4,
        "tickets_open": 3,
        "median_first_response_minutes": 30.0,
        "rating_average": 3.0,
        "ratings": 3,
    }
    assert [w["week"] for w in everything["weekly"]] == ["2026-W46", "2026-W47", "2026-W48", "2026-W49"]
    assert everything["unanswered"][0] == {
        "text": STUCK,
        "count": 3,
        "site_codes": ["xcmg-5"],
        "oldest": "2026-11-26T08:00:00+00:00",
    }

    week_48 = await window_stats(seeded, since=W48)
    assert week_48["totals"]["questions"] == 5 and week_48["totals"]["tickets"] == 4
    assert [w["week"] for w in week_48["weekly"]] == ["2026-W48"]


async def test_empty_database_and_bad_arguments(sessions):
    async with sessions() as session:
        empty = await compute_stats(session)
        assert empty["totals"] == figures()
        assert all(
            empty[key] == []
            for key in ("by_site", "by_region", "by_industry", "by_expert", "weekly", "unanswered")
        )
        with pytest.raises(InvalidInputError, match="since: a timezone-aware"):
            await compute_stats(session, since=datetime(2026, 11, 1))
        with pytest.raises(InvalidInputError, match="is not before until"):
            await compute_stats(session, since=UNTIL, until=SINCE)


def run_stats(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTDESK_")}
    env["CRAFTDESK_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "stats.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )


async def test_script_json_table_and_bad_date(tmp_path: Path):
    data_dir = tmp_path / "var"
    settings = Settings(env="test", data_dir=data_dir, database_url=None, import_demo_when_empty=False)
    async with database(settings) as (_, sessions):
        async with sessions() as session:
            await seed(session)

    done = run_stats("--since", "2026-11-16", "--until", "2026-11-30", "--json", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    assert stats["totals"] == TOTALS and stats["unanswered"][0]["count"] == 2

    table = run_stats("--since", "2026-11-16T08:00+08:00", data_dir=data_dir)
    assert table.returncode == 0, table.stderr
    assert "总计 Totals" in table.stdout and "徐工重型 三号车间" in table.stdout
    assert "2026-W48" in table.stdout

    bad = run_stats("--since", "2026-13-01", data_dir=data_dir)
    assert bad.returncode == 2
    assert "argument --since: not a date: '2026-13-01'" in bad.stderr
    assert "Traceback" not in bad.stderr
