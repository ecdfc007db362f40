"""A small, hand-countable data set for the union's report (bot/service/report.py), the period
2026-10-01..2026-12-31 in Asia/Shanghai (UTC+8): since 2026-09-30 16:00Z, until 2026-12-31
16:00Z. tests/service/test_report.py counts every figure of it by hand.

- stations ST1 铜山服务站 (铜山区), ST2 邳州服务站 (邳州市); sites s1 (铜山区, 工程机械, ST1),
  s2 (邳州市, 电力, ST2), s3 (邳州市, no industry, ST2)
- team T1 电气联盟 = E1 王师傅 + E2 李师傅; E3 张师傅 is in no team
- questions: q1..q6 from askers a, b, c, d and q7 anonymous; q8 outside the period
- tickets t1..t6 (t3 answered 23:30Z on 31 Dec = 1 Jan 07:30 local: outside; t4 answered
  17:00Z on 30 Sep = 1 Oct 01:00 local: inside)
- needs n1 solved on site (40 workers), n2 solved online (5), n3 withdrawn, n4 not solved on site
- classes c1 (E1, ST1), c2 (E3, ST2, cloud), c3 cancelled (E2); sign-ups: phone 1 attends c1 and
  c2, phone 2 attends c1, phone 3 signed up only, phone 4 cancelled (its attendance ignored)
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import (
    ClassSignup,
    Expert,
    Need,
    NeedExpert,
    Question,
    Site,
    Station,
    Team,
    Ticket,
    TrainingClass,
)

START, END = date(2026, 10, 1), date(2026, 12, 31)
SHANGHAI = ZoneInfo("Asia/Shanghai")
ASKERS = {name: name * 64 for name in "abcde"}  # stand-ins for the sha256 hex of asker_key
PHONES = {n: f"1380000000{n}" for n in (1, 2, 3, 4)}


def utc(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _question(
    id: str, site: str, asker: str | None, decision: str, asked: datetime, solved: bool | None = None
):  # type: ignore[no-untyped-def]
    return Question(
        id=id,
        text=f"问题{id}",
        site_code=site,
        decision=decision,
        asked_at=asked,
        solved=solved,
        asker=ASKERS[asker] if asker else None,
    )


def _ticket(  # type: ignore[no-untyped-def]
    id: str,
    question: str | None,
    site: str,
    expert: str | None,
    status: str,
    created: datetime,
    first: datetime | None = None,
    answered: datetime | None = None,
    assigned: datetime | None = None,
    closed: datetime | None = None,
):
    return Ticket(
        id=id,
        token_hash=id * 8,
        question_id=question,
        text=f"工单{id}",
        site_code=site,
        status=status,
        expert_id=expert,
        created_at=created,
        assigned_at=assigned or created,
        first_answer_at=first,
        answered_at=answered or first,
        closed_at=closed,
    )


def _need(id: str, station: str, region: str, industry: str | None, status: str, created: datetime, **more):  # type: ignore[no-untyped-def]
    return Need(
        id=id,
        token_hash=id * 16,
        station_id=station,
        enterprise=f"企业{id}",
        contact_name="联系人",
        contact_phone="13900000000",
        industry=industry,
        region=region,
        problem=f"需求{id}",
        status=status,
        created_at=created,
        **more,
    )


def _signup(id: str, class_id: str, phone: int, attended: datetime | None, cancelled: datetime | None = None):  # type: ignore[no-untyped-def]
    return ClassSignup(
        id=id,
        class_id=class_id,
        token_hash=id * 16,
        name=f"学员{phone}",
        enterprise="某厂",
        phone=PHONES[phone],
        signed_up_at=utc(10, 1),
        attended_at=attended,
        cancelled_at=cancelled,
    )


async def seed_report(session: AsyncSession) -> None:
    session.add_all(
        [
            Station(id="ST1", name="铜山服务站", region="铜山区"),
            Station(id="ST2", name="邳州服务站", region="邳州市"),
            Team(id="T1", name="电气联盟", level="industry"),
            Expert(id="E1", name="王师傅", region="铜山区", team_ids=["T1"]),
            Expert(id="E2", name="李师傅", region="邳州市", team_ids=["T1"]),
            Expert(id="E3", name="张师傅", region="邳州市", team_ids=[]),
        ]
    )
    await session.flush()
    session.add_all(
        [
            Site(code="s1", name="一号车间", region="铜山区", industry="工程机械", station="ST1"),
            Site(code="s2", name="二号车间", region="邳州市", industry="电力", station="ST2"),
            Site(code="s3", name="三号车间", region="邳州市", industry=None, station="ST2"),
        ]
    )
    await session.flush()
    session.add_all(
        [
            _question("q1", "s1", "a", "suggest", utc(10, 5), solved=True),
            _question("q2", "s1", "a", "route", utc(10, 10, 2)),
            _question("q3", "s2", "b", "route", utc(11, 3)),
            _question("q4", "s2", "c", "confirm", utc(11, 8), solved=True),
            _question("q5", "s3", "d", "route", utc(12, 31, 15)),  # 23:00 local on the last day
            _question("q6", "s1", "b", "suggest", utc(11, 9), solved=False),
            _question("q7", "s2", None, "route", utc(9, 30, 16, 30)),  # 00:30 local on the first day
            _question("q8", "s1", "e", "suggest", utc(9, 30, 15), solved=True),  # 23:00 local, the day before
        ]
    )
    await session.flush()
    session.add_all(
        [
            # answered after 30 min, closed while answered
            _ticket(
                "t1", "q2", "s1", "E1", "closed", utc(10, 10, 2), first=utc(10, 10, 2, 30), closed=utc(10, 11)
            ),
            # answered after 120 min, the worker wrote again at 05:00, then closed it unanswered
            _ticket(
                "t2",
                "q3",
                "s2",
                "E2",
                "closed",
                utc(11, 3),
                first=utc(11, 3, 2),
                assigned=utc(11, 3, 5),
                closed=utc(11, 4),
            ),
            # answered 23:30Z on 31 Dec: 1 Jan 07:30 in Shanghai, after the period
            _ticket("t3", "q5", "s3", "E1", "answered", utc(12, 31, 15), first=utc(12, 31, 23, 30)),
            # answered 17:00Z on 30 Sep: 1 Oct 01:00 in Shanghai, in the period; closed answered
            _ticket(
                "t4", "q7", "s2", "E3", "closed", utc(9, 30, 16, 30), first=utc(9, 30, 17), closed=utc(10, 2)
            ),
            _ticket("t5", None, "s1", None, "open", utc(11, 5)),  # never answered
            # answered in September, closed answered in the period
            _ticket("t6", None, "s1", "E2", "closed", utc(9, 1), first=utc(9, 1, 1), closed=utc(10, 3)),
        ]
    )
    session.add_all(
        [
            _need(
                "n1",
                "ST1",
                "铜山区",
                "工程机械",
                "done",
                utc(10, 1),
                matched_at=utc(10, 1, 4),
                scheduled_at=utc(10, 2),
                help_mode="onsite",
                outcome="solved_onsite",
                workers_helped=40,
                closed_at=utc(10, 20),
            ),
            _need(
                "n2",
                "ST2",
                "邳州市",
                "电力",
                "done",
                utc(11, 1),
                matched_at=utc(11, 1, 10),
                help_mode="online",
                outcome="solved_online",
                workers_helped=5,
                closed_at=utc(11, 10),
            ),
            _need("n3", "ST2", "邳州市", None, "withdrawn", utc(11, 15), closed_at=utc(11, 20)),
            _need(
                "n4",
                "ST1",
                "铜山区",
                "工程机械",
                "done",
                utc(12, 1),
                matched_at=utc(12, 1, 1),
                help_mode="onsite",
                outcome="not_solved",
                workers_helped=7,
                closed_at=utc(12, 5),
            ),
            TrainingClass(
                id="c1",
                title="PLC 编程公开课",
                kind="open",
                teacher_id="E1",
                starts_at=utc(10, 15, 6),
                station_id="ST1",
                region="铜山区",
            ),
            TrainingClass(
                id="c2",
                title="变频器云课堂",
                kind="cloud",
                teacher_id="E3",
                starts_at=utc(11, 20, 12),
                station_id="ST2",
                region="邳州市",
            ),
            TrainingClass(
                id="c3",
                title="停开的课",
                kind="open",
                teacher_id="E2",
                starts_at=utc(12, 1),
                station_id="ST1",
                region="铜山区",
                active=False,
            ),
        ]
    )
    await session.flush()
    session.add_all(
        [
            NeedExpert(need_id="n1", expert_id="E1", state="accepted", matched_at=utc(10, 1, 4)),
            NeedExpert(need_id="n1", expert_id="E3", state="declined", matched_at=utc(10, 1, 4)),
            NeedExpert(need_id="n2", expert_id="E2", state="accepted", matched_at=utc(11, 1, 10)),
            NeedExpert(need_id="n4", expert_id="E2", state="asked", matched_at=utc(12, 1, 1)),
            _signup("u1", "c1", 1, utc(10, 15, 6, 10)),
            _signup("u2", "c1", 2, utc(10, 15, 6, 20)),
            _signup("u3", "c1", 3, None),
            _signup("u4", "c2", 1, utc(11, 20, 12, 5)),
            _signup("u5", "c2", 4, utc(11, 20, 12, 6), cancelled=utc(11, 19)),
        ]
    )
    await session.commit()
