"""The union's report against a hand-counted data set (tests/utils/report_data.py): every total,
the county and team breakdowns, the experts, the time-zone boundary both ways and a steward's
scope. The counting is on SQLite and PostgreSQL (it aggregates in SQL)."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.report import (
    ReportScope,
    compute_report,
    covering,
    default_period,
    parse_day,
    percentile,
)
from knowledge.errors import InvalidInputError
from knowledge.models import Steward
from tests.utils.report_data import END, SHANGHAI, START, seed_report, utc

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def seeded(sessions: Sessions) -> Sessions:
    async with sessions() as session:
        await seed_report(session)
    return sessions


def summary(median: float | None, p90: float | None, count: int) -> dict[str, Any]:
    return {"median": median, "p90": p90, "count": count}


def timing(both: tuple, tickets: tuple, needs: tuple) -> dict[str, Any]:  # type: ignore[type-arg]
    return summary(*both) | {"tickets": summary(*tickets), "needs": summary(*needs)}


def figures(
    *,
    tickets_answered: int,
    needs_online: int,
    needs_onsite: int,
    solved_onsite: int,
    solved: tuple[int, int, int],  # online: needs, tickets, suggestions
    attendances: int,
    reached: tuple[int, int, int],  # askers, attendee phones, workers of solved needs
    anonymous: int,
    first: dict[str, Any],
    resolution: dict[str, Any],
) -> dict[str, Any]:
    return {
        "help_sessions": tickets_answered + needs_online + needs_onsite,
        "help_sessions_online": tickets_answered + needs_online,
        "help_sessions_onsite": needs_onsite,
        "help_sessions_parts": {
            "tickets_answered": tickets_answered,
            "needs_helped": needs_online + needs_onsite,
        },
        "solved_onsite": solved_onsite,
        "solved_online": sum(solved),
        "solved_online_parts": dict(zip(("needs", "tickets", "suggestions"), solved, strict=True)),
        "training_attendances": attendances,
        "workers_reached": sum(reached),
        "workers_reached_parts": dict(zip(("askers", "attendees", "need_workers"), reached, strict=True)),
        "anonymous_questions": anonymous,
        "first_response_minutes": first,
        "resolution_minutes": resolution,
    }


# Ticket minutes: t1 30 (created→first answer), t2 120, t4 30; t3 (510) is answered after the period.
# Need minutes to the first match: n1 240, n2 600, n4 60. Resolution: tickets closed while answered
# t1 30, t4 30, t6 60 (created→answered_at); needs solved n1 19 days = 27360, n2 9 days = 12960.
# p90 is linear between ranks: position (n-1)*0.9 in the sorted values.
TOTALS = figures(
    tickets_answered=3,  # t1, t2, t4 (t3: 1 Jan local; t5 never; t6 in September)
    needs_online=1,  # n2 solved online
    needs_onsite=2,  # n1 solved on site, n4 not solved but visited on site (n3 withdrawn: none)
    solved_onsite=1,  # n1
    solved=(1, 3, 2),  # n2; t1, t4, t6 (t2 was reopened and closed unanswered); q1 suggest + q4 confirm
    attendances=3,  # u1, u2 at c1, u4 at c2 (u3 never came, u5 cancelled)
    reached=(4, 2, 45),  # a b c d (q7 anonymous, q8 before the period); phones 1 and 2; 40 + 5
    anonymous=1,  # q7, asked 00:30 local on 1 Oct
    # [30, 30, 60, 120, 240, 600]: median (60+120)/2; p90 at 4.5: 240 + 0.5*360
    first=timing((90.0, 420.0, 6), (30.0, 102.0, 3), (240.0, 528.0, 3)),
    # [30, 30, 60, 12960, 27360]: median 60; p90 at 3.6: 12960 + 0.6*14400
    resolution=timing((60.0, 21600.0, 5), (30.0, 54.0, 3), (20160.0, 25920.0, 2)),
)
TONGSHAN = figures(  # s1, n1, n4, c1
    tickets_answered=1,  # t1
    needs_online=0,
    needs_onsite=2,  # n1, n4
    solved_onsite=1,
    solved=(0, 2, 1),  # t1, t6; q1
    attendances=2,  # phones 1, 2 at c1
    reached=(2, 2, 40),  # a (q1, q2), b (q6); phones 1, 2; n1's 40
    anonymous=0,
    first=timing((60.0, 204.0, 3), (30.0, 30.0, 1), (150.0, 222.0, 2)),  # [30] + [60, 240]
    resolution=timing((60.0, 21900.0, 3), (45.0, 57.0, 2), (27360.0, 27360.0, 1)),  # [30, 60] + [27360]
)
PIZHOU = figures(  # s2, s3, n2, n3, c2
    tickets_answered=2,  # t2, t4
    needs_online=1,  # n2
    needs_onsite=0,
    solved_onsite=0,
    solved=(1, 1, 1),  # n2; t4; q4
    attendances=1,  # phone 1 at c2
    reached=(3, 1, 5),  # b (q3), c (q4), d (q5, 23:00 local on the last day); phone 1; n2's 5
    anonymous=1,  # q7
    first=timing((120.0, 504.0, 3), (75.0, 111.0, 2), (600.0, 600.0, 1)),  # [120, 30] + [600]
    resolution=timing((6495.0, 11667.0, 2), (30.0, 30.0, 1), (12960.0, 12960.0, 1)),  # [30] + [12960]
)
TEAM_T1 = figures(  # E1 and E2: tickets t1 t2 t3 t6 and their questions, needs n1 n2 n4, class c1
    tickets_answered=2,  # t1 (E1), t2 (E2)
    needs_online=1,  # n2 (E2)
    needs_onsite=2,  # n1 (E1; E3 declined), n4 (E2, asked: not declined)
    solved_onsite=1,  # n1
    solved=(1, 2, 0),  # n2; t1, t6; the solved suggestions have no ticket, so no team
    attendances=2,  # c1 taught by E1
    reached=(3, 2, 45),  # a (q2→t1), b (q3→t2), d (q5→t3, asked in the period); phones 1, 2; 40 + 5
    anonymous=0,  # q7's ticket t4 is E3's
    first=timing((120.0, 456.0, 5), (75.0, 111.0, 2), (240.0, 528.0, 3)),  # [30, 120] + [240, 600, 60]
    resolution=timing(
        (6510.0, 23040.0, 4), (45.0, 57.0, 2), (20160.0, 25920.0, 2)
    ),  # [30, 60] + [27360, 12960]
)
EXPERTS = [
    # E1: t1; n1; c1. E2: t2; n2, n4 (t6 answered in September; c3 cancelled). E3: t4; c2 (n1 declined)
    {"expert_id": "E1", "name": "王师傅", "answers": 1, "needs_helped": 1, "classes_taught": 1, "total": 3},
    {"expert_id": "E2", "name": "李师傅", "answers": 1, "needs_helped": 2, "classes_taught": 0, "total": 3},
    {"expert_id": "E3", "name": "张师傅", "answers": 1, "needs_helped": 0, "classes_taught": 1, "total": 2},
]


async def report(sessions: Sessions, by: str = "city", tz: ZoneInfo = SHANGHAI, scope: Any = None) -> dict:
    async with sessions() as session:
        return await compute_report(session, START, END, tz, by, scope)


async def test_every_total_and_the_experts_match_the_hand_count(seeded: Sessions):
    got = await report(seeded)
    assert got["period"] == {
        "from": "2026-10-01",
        "to": "2026-12-31",
        "timezone": "Asia/Shanghai",
        "since": "2026-09-30T16:00:00+00:00",
        "until": "2026-12-31T16:00:00+00:00",
    }
    assert got["totals"] == TOTALS
    assert got["rows"] == [{"key": "city", "label": "全市"} | TOTALS]
    assert got["experts"] == EXPERTS
    assert got["scope"] is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_county_team_industry_and_station_rows(seeded: Sessions):
    county = await report(seeded, "county")
    assert county["rows"] == [
        {"key": "邳州市", "label": "邳州市"} | PIZHOU,
        {"key": "铜山区", "label": "铜山区"} | TONGSHAN,
    ]
    assert county["totals"] == TOTALS  # phone 1 and asker b are in both rows, once in the totals
    assert (await report(seeded, "team"))["rows"] == [{"key": "T1", "label": "电气联盟"} | TEAM_T1]
    industry = {row["label"]: row for row in (await report(seeded, "industry"))["rows"]}
    assert list(industry) == ["工程机械", "电力", "未分类"]  # s3, n3 and the classes have none
    assert industry["未分类"]["training_attendances"] == 3 and industry["电力"]["help_sessions"] == 3
    station = (await report(seeded, "station"))["rows"]
    assert [(r["key"], r["label"]) for r in station] == [("ST1", "铜山服务站"), ("ST2", "邳州服务站")]
    assert {k: v for k, v in station[0].items() if k not in ("key", "label")} == TONGSHAN  # ST1 is 铜山区


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_day_boundary_follows_the_time_zone(seeded: Sessions):
    """In UTC the same dates take t3 (answered 23:30Z on 31 Dec) and leave out t4's answer and
    q7 (30 Sep 16:30-17:00Z); in Shanghai it is the other way round."""
    shanghai, utc_report = await report(seeded), await report(seeded, tz=ZoneInfo("UTC"))
    assert utc_report["period"]["since"] == "2026-10-01T00:00:00+00:00"
    assert utc_report["totals"]["anonymous_questions"] == 0 and shanghai["totals"]["anonymous_questions"] == 1
    # tickets answered: t1, t2, t3 in UTC; t1, t2, t4 in Shanghai
    assert utc_report["totals"]["help_sessions_parts"]["tickets_answered"] == 3
    assert utc_report["totals"]["first_response_minutes"]["tickets"] == summary(
        120.0, 432.0, 3
    )  # [30, 120, 510]
    answers = {e["expert_id"]: e["answers"] for e in utc_report["experts"]}
    assert answers == {"E1": 2, "E2": 1, "E3": 0}  # E3 stays listed for class c2
    # t4 was closed answered on 2 Oct: solved in both
    assert utc_report["totals"]["solved_online_parts"] == shanghai["totals"]["solved_online_parts"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_stewards_scope_narrows_every_line(seeded: Sessions):
    """Station ST2: sites s2 and s3, needs n2 and n3, class c2, the same as the 邳州市 row."""
    async with seeded() as session:
        steward = Steward(id="wang", name="王管家", station_ids=["ST2"], regions=[], created_at=utc(1, 1))
        session.add(steward)
        await session.commit()
        narrowed = await compute_report(session, START, END, SHANGHAI, "city", steward)
        by_region = await compute_report(
            session, START, END, SHANGHAI, "county", await covering(session, [], ["铜山区"])
        )
    assert narrowed["totals"] == PIZHOU
    assert narrowed["scope"] == {"station_ids": ["ST2"], "regions": [], "sites": 2}
    assert narrowed["experts"] == [
        {
            "expert_id": "E2",
            "name": "李师傅",
            "answers": 1,
            "needs_helped": 1,
            "classes_taught": 0,
            "total": 2,
        },
        {
            "expert_id": "E3",
            "name": "张师傅",
            "answers": 1,
            "needs_helped": 0,
            "classes_taught": 1,
            "total": 2,
        },
    ]
    assert by_region["totals"] == TONGSHAN
    assert by_region["rows"] == [{"key": "铜山区", "label": "铜山区"} | TONGSHAN]
    nothing = ReportScope(frozenset())
    async with seeded() as session:
        empty = await compute_report(session, START, END, SHANGHAI, "city", nothing)
    assert empty["totals"]["help_sessions"] == 0 and empty["rows"] == [] and empty["experts"] == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("start", "end", "by", "message"),
    [
        (date(2026, 12, 2), date(2026, 12, 1), "city", "from: 2026-12-02 is after to 2026-12-01"),
        (date(2025, 1, 1), date(2026, 2, 5), "city", "to: the period is 401 days long; at most 400"),
        (START, END, "site", "by: one of city, county, industry, team, station"),
    ],
)
async def test_bad_arguments_name_what_is_wrong(
    sessions: Sessions, start: date, end: date, by: str, message: str
):
    async with sessions() as session:
        with pytest.raises(InvalidInputError, match=message):
            await compute_report(session, start, end, SHANGHAI, by)


def test_days_defaults_and_percentiles():
    assert parse_day("2026-10-01", "from") == date(2026, 10, 1)
    for bad in ("2026-13-01", "20261001", "2026-10-1", "yesterday"):
        with pytest.raises(InvalidInputError, match=f"from: not a date: '{bad}'"):
            parse_day(bad, "from")
    assert default_period(date(2026, 5, 14)) == (date(2026, 3, 1), date(2026, 5, 14))
    assert default_period(date(2026, 2, 28)) == (date(2025, 12, 1), date(2026, 2, 28))
    assert default_period(date(2026, 1, 1)) == (date(2025, 11, 1), date(2026, 1, 1))
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5 and percentile(
        [1.0, 2.0, 3.0, 4.0], 0.9
    ) == pytest.approx(3.7)
