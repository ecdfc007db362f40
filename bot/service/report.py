"""The union's report: the three lines of the programme (QR questions, needs lists, classes) as
one set of figures for a period, in total and per city / county / industry / team / station.

One call, ``compute_report``, serves ``GET /api/admin/report`` (and its .xlsx/.pdf), the 报告 tab
and ``scripts/report.py``. The period is two local dates, both included, in the report's time
zone (``CRAFTDESK_REPORT_TIMEZONE``, Asia/Shanghai): ``[start 00:00, end+1 00:00)`` local,
compared in UTC. (``compute_stats`` and ``/api/admin/stats`` stay in UTC.)

How each figure is counted (``docs/api.md``, "The report", says the same):

- **help_sessions** = ``help_sessions_online`` + ``help_sessions_onsite``: tickets first
  answered in the period (``first_answer_at``), all online; plus needs *done* in the period
  (``closed_at``), whatever the outcome: solved_onsite is on site, solved_online online, and
  not_solved goes by the help that was given (``help_mode`` onsite: on site, else online). A
  not_solved need counts as a help session because the expert did give the guidance or make
  the visit; it is left out of the problems solved. A withdrawn need is no help session.
- **solved_onsite**: needs done as solved_onsite in the period.
- **solved_online**: needs done as solved_online in the period; plus tickets closed in the
  period while answered (an answer, and no worker follow-up after the last answer: the worker
  closed the answered ticket); plus questions asked in the period whose suggested or proposed
  case the worker marked 解决了 (``solved`` with decision suggest/confirm). Parts apart in
  ``solved_online_parts``.
- **training_attendances**: sign-ups marked attended in the period (``attended_at``), not
  cancelled; a person at two classes is two attendances.
- **workers_reached** = distinct askers (``Question.asker`` of questions asked in the period:
  a web-chat browser or a Telegram chat, hashed; the channel is in the hash, so the two never
  collide) + distinct attendee phones (of the attendances counted) + the ``workers_helped`` of
  needs solved (on site or online) in the period. The three parts cannot be de-duplicated
  against each other (an asker is a browser, an attendee a phone number, a need's workers a
  number the steward wrote), so the sum may count a person twice; each part is distinct
  within itself. Questions without an asker are not workers: ``anonymous_questions``.
- **first_response_minutes**: tickets first answered in the period, created → first answer;
  needs first matched in the period, filed → ``matched_at`` (the station's response: an
  expert is on it; scheduling comes later). **resolution_minutes**: the problems counted as
  solved above that took a person: tickets, created → the last answer (``answered_at``, the
  one the worker accepted by closing); needs, filed → ``closed_at``. Suggestions are instant
  and left out. Each as ``median`` and ``p90`` (linear between ranks) over both lines, and
  apart (``tickets``, ``needs``).
- **experts**: the ten most active: ``answers`` (tickets first answered in the period that
  they hold), ``needs_helped`` (needs done in the period they were matched to and did not
  decline), ``classes_taught`` (active classes starting in the period they teach).

Where a record falls in a breakdown: questions and tickets by their site (its region, industry
and station; none: the 未填写/未分类/无服务站 rows), needs by their own region, industry and
station, classes by their region and station (no industry: 未分类). ``team``: tickets held by
the team's members, the questions of those tickets, needs matched to its members (not
declined), classes its members teach; an expert in several teams counts for each, a record
with two members of a team once for it. The figures of a row are distinct within the row, so
rows do not add up to the totals where a worker or an expert appears in several rows.

``scope`` narrows everything to a steward's view: the sites of their stations and regions,
and the needs and classes of those stations and regions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any, Literal, NamedTuple, get_args
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.stats import in_window
from bot.service.stewards import scope_sites
from knowledge.errors import InvalidInputError
from knowledge.models import (
    ClassSignup,
    Expert,
    Need,
    NeedExpert,
    Question,
    Site,
    Station,
    Steward,
    Team,
    Ticket,
    TrainingClass,
)
from knowledge.states import Decision, HelpMode, MatchState, NeedOutcome, NeedStatus, TicketStatus

Breakdown = Literal["city", "county", "industry", "team", "station"]
BREAKDOWNS: tuple[str, ...] = get_args(Breakdown)
MAX_DAYS = 400
TOP_EXPERTS = 10
CITY = "city"
LABELS = {"city": "全市", "county": "未填写地区", "industry": "未分类", "station": "未归属服务站"}
SOLVED = (NeedOutcome.SOLVED_ONSITE, NeedOutcome.SOLVED_ONLINE)


# ---- the period ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Local dates, both included, in a time zone."""

    start: date
    end: date
    zone: ZoneInfo

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(), self.zone).astimezone(UTC)

    @property
    def until(self) -> datetime:
        """The first instant after the period (local midnight after ``end``)."""
        return datetime.combine(self.end + timedelta(days=1), time(), self.zone).astimezone(UTC)

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.since <= moment < self.until

    def as_dict(self) -> dict[str, str]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "timezone": self.zone.key,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
        }


def make_period(start: date, end: date, zone: ZoneInfo) -> Period:
    if start > end:
        raise InvalidInputError(f"from: {start.isoformat()} is after to {end.isoformat()}")
    if (days := (end - start).days + 1) > MAX_DAYS:
        raise InvalidInputError(f"to: the period is {days} days long; at most {MAX_DAYS}")
    return Period(start, end, zone)


def parse_day(text: str, name: str) -> date:
    """A ``YYYY-MM-DD`` date; InvalidInputError naming ``name`` otherwise."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{name}: not a date: {text!r} (expected YYYY-MM-DD)") from None


def default_period(today: date) -> tuple[date, date]:
    """Three calendar months up to today: the first of the month two months back, to today
    (on 14 May: 1 March to 14 May). The union reports by three months."""
    month = today.month - 2
    year = today.year + (month - 1) // 12
    return date(year, (month - 1) % 12 + 1, 1), today


def local_today(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


# ---- the scope ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportScope:
    """A steward's view: questions and tickets of these sites, needs and classes of these
    stations or regions."""

    sites: frozenset[str]
    station_ids: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()

    def of_site(self, column: Any) -> list[ColumnElement[bool]]:
        return [column.in_(sorted(self.sites))]

    def of_place(self, station: Any, region: Any) -> list[ColumnElement[bool]]:
        parts = [station.in_(sorted(self.station_ids))] if self.station_ids else []
        parts += [region.in_(sorted(self.regions))] if self.regions else []
        return [or_(*parts) if parts else false()]


async def covering(
    session: AsyncSession, station_ids: Collection[str], regions: Collection[str]
) -> ReportScope:
    """The scope of some stations and regions, as a steward of them would see it."""
    view = Steward(id="", name="", station_ids=sorted(station_ids), regions=sorted(regions))
    return ReportScope(await scope_sites(session, view), frozenset(station_ids), frozenset(regions))


async def _resolve(session: AsyncSession, scope: ReportScope | Steward | None) -> ReportScope | None:
    if isinstance(scope, Steward):
        return await covering(session, scope.station_ids, scope.regions)
    return scope


# ---- the tallies --------------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float:
    """The q-quantile, linear between the closest ranks (the median at q=0.5)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"median": None, "p90": None, "count": 0}
    return {
        "median": round(median(values), 1),
        "p90": round(percentile(values, 0.9), 1),
        "count": len(values),
    }


def _minutes(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60


@dataclass
class _Tally:
    """The figures of one row (or of the totals)."""

    counts: Counter[str] = field(default_factory=Counter)
    askers: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    times: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def figures(self) -> dict[str, Any]:
        c = self.counts
        online = c["tickets_answered"] + c["needs_online"]
        solved = {
            "needs": c["solved_online_needs"],
            "tickets": c["solved_tickets"],
            "suggestions": c["suggestions"],
        }
        reached = {
            "askers": len(self.askers),
            "attendees": len(self.phones),
            "need_workers": c["need_workers"],
        }

        def timing(kind: str) -> dict[str, Any]:
            both = self.times[f"{kind}_tickets"] + self.times[f"{kind}_needs"]
            return _summary(both) | {
                "tickets": _summary(self.times[f"{kind}_tickets"]),
                "needs": _summary(self.times[f"{kind}_needs"]),
            }

        return {
            "help_sessions": online + c["needs_onsite"],
            "help_sessions_online": online,
            "help_sessions_onsite": c["needs_onsite"],
            "help_sessions_parts": {
                "tickets_answered": c["tickets_answered"],
                "needs_helped": c["needs_online"] + c["needs_onsite"],
            },
            "solved_onsite": c["solved_onsite"],
            "solved_online": sum(solved.values()),
            "solved_online_parts": solved,
            "training_attendances": c["attendances"],
            "workers_reached": sum(reached.values()),
            "workers_reached_parts": reached,
            "anonymous_questions": c["anonymous"],
            "first_response_minutes": timing("first"),
            "resolution_minutes": timing("resolution"),
        }


class _Where(NamedTuple):
    """Where a record falls: its region, industry, station and the experts it counts for."""

    region: str | None
    industry: str | None
    station: str | None
    experts: tuple[str, ...] = ()


@dataclass
class _Report:
    by: str
    expert_teams: dict[str, list[str]]
    totals: _Tally = field(default_factory=_Tally)
    rows: defaultdict[Hashable, _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    experts: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def tallies(self, where: _Where) -> list[_Tally]:
        keys: Iterable[Hashable]
        if self.by == "team":
            keys = sorted({team for e in where.experts for team in self.expert_teams.get(e, [])})
        elif self.by == "county":
            keys = [where.region]
        elif self.by == "industry":
            keys = [where.industry]
        elif self.by == "station":
            keys = [where.station]
        else:
            keys = [CITY]
        return [self.totals] + [self.rows[key] for key in keys]


AtSite = Callable[[str | None, tuple[str, ...]], _Where]


def _blank(value: str | None) -> str | None:
    return (value or "").strip() or None


async def compute_report(
    session: AsyncSession,
    start: date,
    end: date,
    tz: ZoneInfo,
    by: str = "city",
    scope: ReportScope | Steward | None = None,
    top_experts: int = TOP_EXPERTS,
) -> dict[str, Any]:
    """The report for local dates ``start`` to ``end`` (both included) in ``tz``, broken down
    ``by`` city/county/industry/team/station; a JSON-ready dict (``GET /api/admin/report``)."""
    if by not in BREAKDOWNS:
        raise InvalidInputError(f"by: one of {', '.join(BREAKDOWNS)}, not {by!r}")
    period = make_period(start, end, tz)
    view = await _resolve(session, scope)
    names = await _names(session)
    report = _Report(by, names["expert_teams"])
    places = {
        code: (_blank(region), _blank(industry), station)
        for code, region, industry, station in await session.execute(
            select(Site.code, Site.region, Site.industry, Site.station)
        )
    }

    def at_site(code: str | None, experts: tuple[str, ...] = ()) -> _Where:
        return _Where(*places.get(code or "", (None, None, None)), experts=experts)

    await _questions(session, period, view, report, at_site)
    await _tickets(session, period, view, report, at_site)
    await _needs(session, period, view, report)
    await _classes(session, period, view, report)
    return {
        "period": period.as_dict(),
        "by": by,
        "scope": None
        if view is None
        else {
            "station_ids": sorted(view.station_ids),
            "regions": sorted(view.regions),
            "sites": len(view.sites),
        },
        "totals": report.totals.figures(),
        "rows": [
            {"key": key, "label": _label(by, key, names)} | tally.figures()
            for key, tally in sorted(report.rows.items(), key=lambda item: (item[0] is None, str(item[0])))
        ],
        "experts": _top_experts(report.experts, names["experts"], top_experts),
    }


async def _names(session: AsyncSession) -> dict[str, Any]:
    experts = (await session.execute(select(Expert.id, Expert.name, Expert.team_ids))).all()
    return {
        "experts": {e.id: e.name for e in experts},
        "expert_teams": {e.id: list(e.team_ids or []) for e in experts},
        "team": {team_id: name for team_id, name in await session.execute(select(Team.id, Team.name))},
        "station": {
            station: name for station, name in await session.execute(select(Station.id, Station.name))
        },
    }


def _label(by: str, key: Hashable, names: dict[str, Any]) -> str:
    if key is None:
        return LABELS[by]
    if by == CITY:
        return LABELS[CITY]
    return str(names.get(by, {}).get(key) or key)


def _top_experts(activity: dict[str, Counter[str]], names: dict[str, str], top: int) -> list[dict[str, Any]]:
    def total(c: Counter[str]) -> int:
        return c["answers"] + c["needs_helped"] + c["classes_taught"]

    ranked = sorted(
        (item for item in activity.items() if total(item[1]) > 0),
        key=lambda item: (-total(item[1]), -item[1]["answers"], item[0]),
    )
    return [
        {
            "expert_id": expert_id,
            "name": names.get(expert_id, expert_id),
            "answers": c["answers"],
            "needs_helped": c["needs_helped"],
            "classes_taught": c["classes_taught"],
            "total": total(c),
        }
        for expert_id, c in ranked[:top]
    ]


# ---- the lines ----------------------------------------------------------------------------------


async def _questions(
    session: AsyncSession, period: Period, view: ReportScope | None, report: _Report, at_site: AtSite
) -> None:
    """Questions asked in the period, counted in SQL per (site, asker, ticket holder)."""
    solved = and_(Question.solved.is_(True), Question.decision.in_([Decision.SUGGEST, Decision.CONFIRM]))
    query = (
        select(
            Question.site_code,
            Question.asker,
            Ticket.expert_id,
            func.count().label("n"),
            func.coalesce(func.sum(case((solved, 1), else_=0)), 0).label("solved"),
        )
        .outerjoin(Ticket, Ticket.question_id == Question.id)
        .where(*in_window(Question.asked_at, period.since, period.until))
        .where(*(view.of_site(Question.site_code) if view else []))
        .group_by(Question.site_code, Question.asker, Ticket.expert_id)
    )
    for row in await session.execute(query):
        experts = (row.expert_id,) if row.expert_id else ()
        for tally in report.tallies(at_site(row.site_code, experts)):
            tally.counts["suggestions"] += row.solved
            if row.asker is None:
                tally.counts["anonymous"] += row.n
            else:
                tally.askers.add(row.asker)


def _closed_answered(ticket: Any) -> bool:
    """Closed while answered: it has an answer and the worker wrote nothing after the last one
    (a follow-up reopens it and sets ``assigned_at`` after ``answered_at``)."""
    return (
        ticket.status == TicketStatus.CLOSED
        and ticket.first_answer_at is not None
        and ticket.answered_at is not None
        and (ticket.assigned_at is None or ticket.answered_at >= ticket.assigned_at)
    )


async def _tickets(
    session: AsyncSession, period: Period, view: ReportScope | None, report: _Report, at_site: AtSite
) -> None:
    """Tickets first answered or closed in the period, folded row by row (for the times)."""
    query = (
        select(
            Ticket.site_code,
            Ticket.expert_id,
            Ticket.status,
            Ticket.created_at,
            Ticket.assigned_at,
            Ticket.first_answer_at,
            Ticket.answered_at,
            Ticket.closed_at,
        )
        .where(
            or_(
                and_(*in_window(Ticket.first_answer_at, period.since, period.until)),
                and_(*in_window(Ticket.closed_at, period.since, period.until)),
            )
        )
        .where(*(view.of_site(Ticket.site_code) if view else []))
    )
    for t in await session.execute(query):
        answered = period.holds(t.first_answer_at)
        solved = period.holds(t.closed_at) and _closed_answered(t)
        if answered and t.expert_id:
            report.experts[t.expert_id]["answers"] += 1
        for tally in report.tallies(at_site(t.site_code, (t.expert_id,) if t.expert_id else ())):
            if answered:
                tally.counts["tickets_answered"] += 1
                tally.times["first_tickets"].append(_minutes(t.created_at, t.first_answer_at))
            if solved:
                tally.counts["solved_tickets"] += 1
                tally.times["resolution_tickets"].append(_minutes(t.created_at, t.answered_at))


async def _needs(session: AsyncSession, period: Period, view: ReportScope | None, report: _Report) -> None:
    """Needs done or first matched in the period, with the experts who did not decline."""
    done = and_(Need.status == NeedStatus.DONE, *in_window(Need.closed_at, period.since, period.until))
    counted = [
        or_(done, and_(*in_window(Need.matched_at, period.since, period.until))),
        *(view.of_place(Need.station_id, Need.region) if view else []),
    ]
    helpers: defaultdict[str, list[str]] = defaultdict(list)
    matched = (
        select(NeedExpert.need_id, NeedExpert.expert_id)
        .join(Need, Need.id == NeedExpert.need_id)
        .where(NeedExpert.state != MatchState.DECLINED, *counted)
        .order_by(NeedExpert.expert_id)
    )
    for need_id, expert_id in await session.execute(matched):
        helpers[need_id].append(expert_id)
    query = select(
        Need.id,
        Need.region,
        Need.industry,
        Need.station_id,
        Need.status,
        Need.outcome,
        Need.help_mode,
        Need.workers_helped,
        Need.created_at,
        Need.matched_at,
        Need.closed_at,
    ).where(*counted)
    for n in await session.execute(query):
        helped = n.status == NeedStatus.DONE and period.holds(n.closed_at) and n.outcome is not None
        experts = tuple(helpers.get(n.id, ()))
        if helped:
            for expert_id in experts:
                report.experts[expert_id]["needs_helped"] += 1
        onsite = n.outcome == NeedOutcome.SOLVED_ONSITE or (
            n.outcome == NeedOutcome.NOT_SOLVED and n.help_mode == HelpMode.ONSITE
        )
        for tally in report.tallies(_Where(_blank(n.region), _blank(n.industry), n.station_id, experts)):
            if period.holds(n.matched_at):
                tally.times["first_needs"].append(_minutes(n.created_at, n.matched_at))
            if not helped:
                continue
            tally.counts["needs_onsite" if onsite else "needs_online"] += 1
            if n.outcome in SOLVED:
                tally.counts["solved_onsite" if onsite else "solved_online_needs"] += 1
                tally.counts["need_workers"] += n.workers_helped or 0
                tally.times["resolution_needs"].append(_minutes(n.created_at, n.closed_at))


async def _classes(session: AsyncSession, period: Period, view: ReportScope | None, report: _Report) -> None:
    """Attendances in the period, and the classes each teacher gave in it."""
    place = view.of_place(TrainingClass.station_id, TrainingClass.region) if view else []
    attended = (
        select(ClassSignup.phone, TrainingClass.region, TrainingClass.station_id, TrainingClass.teacher_id)
        .join(TrainingClass, TrainingClass.id == ClassSignup.class_id)
        .where(
            ClassSignup.cancelled_at.is_(None),
            *in_window(ClassSignup.attended_at, period.since, period.until),
        )
        .where(*place)
    )
    for a in await session.execute(attended):
        experts = (a.teacher_id,) if a.teacher_id else ()
        for tally in report.tallies(_Where(_blank(a.region), None, a.station_id, experts)):
            tally.counts["attendances"] += 1
            tally.phones.add(a.phone)
    taught = (
        select(TrainingClass.teacher_id, func.count())
        .where(TrainingClass.active, TrainingClass.teacher_id.is_not(None))
        .where(*in_window(TrainingClass.starts_at, period.since, period.until), *place)
        .group_by(TrainingClass.teacher_id)
    )
    for teacher_id, n in await session.execute(taught):
        if teacher_id is not None:
            report.experts[teacher_id]["classes_taught"] += n
