"""The union's statistics: questions, suggestions, tickets, response times and ratings.

One call, ``compute_stats``, serves ``GET /api/admin/stats`` and ``scripts/stats.py``. Question
counts per site are grouped in SQL; ticket figures need each ticket's response time, so tickets
are read row by row and folded in Python (the median is not portable SQL). Everything is UTC:
the window and the ISO weeks of ``weekly``. ``outbox`` is the notification queue as it is now
(not windowed): pending, dead-lettered (given up on, an admin can retry) and delivered.
``sites`` narrows everything but the outbox to questions and tickets of those sites (a
steward's scope). ``by_team`` counts the tickets held by each team's members.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import fmean, median
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from knowledge.errors import InvalidInputError
from knowledge.models import Expert, OutboxEvent, Question, Site, Team, Ticket
from knowledge.states import Decision, TicketStatus

QUESTION_COUNTS = (
    "questions",
    "suggested",
    "confirmed",
    "rejected",
    "routed",
    "solved_by_suggestion",
    "not_solved",
)
TICKET_COUNTS = ("tickets", "tickets_answered", "tickets_closed", "tickets_open")
EXPERT_FIELDS = (
    "tickets",
    "tickets_answered",
    "tickets_closed",
    "median_first_response_minutes",
    "rating_average",
    "ratings",
)
WEEKLY_FIELDS = ("questions", "suggested", "solved_by_suggestion", "tickets", "tickets_answered")
DECISION_COUNTER = {
    Decision.SUGGEST: "suggested",
    Decision.CONFIRM: "confirmed",
    Decision.REJECT: "rejected",
    Decision.ROUTE: "routed",
}
DIMENSIONS = ("by_site", "by_region", "by_industry")


@dataclass
class _Tally:
    """Counters of one group (all, a site, a region, an industry, an expert or a week)."""

    counts: Counter[str] = field(default_factory=Counter)
    minutes: list[float] = field(default_factory=list)
    ratings: list[int] = field(default_factory=list)

    def add_questions(self, decision: Decision, solved: bool | None, n: int = 1) -> None:
        self.counts["questions"] += n
        if decision in DECISION_COUNTER:
            self.counts[DECISION_COUNTER[decision]] += n
        if solved is not None:
            self.counts["solved_by_suggestion" if solved else "not_solved"] += n

    def add_ticket(self, ticket: Row[Any]) -> None:
        answered, closed = ticket.first_answer_at is not None, ticket.status == TicketStatus.CLOSED
        self.counts["tickets"] += 1
        self.counts["tickets_answered"] += int(answered)
        self.counts["tickets_closed"] += int(closed)
        self.counts["tickets_open"] += int(not answered and not closed)
        if answered:
            self.minutes.append((ticket.first_answer_at - ticket.created_at).total_seconds() / 60)
        if ticket.rating is not None:
            self.ratings.append(ticket.rating)

    def figures(self, names: Sequence[str] | None = None) -> dict[str, Any]:
        every = {name: self.counts[name] for name in QUESTION_COUNTS + TICKET_COUNTS} | {
            "median_first_response_minutes": round(median(self.minutes), 1) if self.minutes else None,
            "rating_average": round(fmean(self.ratings), 2) if self.ratings else None,
            "ratings": len(self.ratings),
        }
        return every if names is None else {name: every[name] for name in names}


@dataclass
class _Report:
    totals: _Tally = field(default_factory=_Tally)
    groups: dict[str, defaultdict[Hashable, _Tally]] = field(
        default_factory=lambda: {name: defaultdict(_Tally) for name in (*DIMENSIONS, "by_expert", "by_team")}
    )
    names: dict[str, dict[Hashable, str | None]] = field(
        default_factory=lambda: {"by_site": {}, "by_expert": {}, "by_team": {}}
    )
    weekly: defaultdict[str, _Tally] = field(default_factory=lambda: defaultdict(_Tally))

    def site_tallies(self, row: Row[Any]) -> list[_Tally]:
        """The totals and the site/region/industry groups a row with site columns falls in."""
        self.names["by_site"][row.site_code] = row.site_name
        keys = (row.site_code, row.region, row.industry)
        return [self.totals] + [self.groups[dim][key] for dim, key in zip(DIMENSIONS, keys, strict=True)]

    def add_ticket(self, ticket: Row[Any]) -> None:
        self.names["by_expert"][ticket.expert_id] = ticket.expert_name
        tallies = self.site_tallies(ticket) + [self.groups["by_expert"][ticket.expert_id]]
        tallies += [self.groups["by_team"][team] for team in ticket.team_ids or []]
        for tally in tallies + [self.weekly[iso_week(ticket.created_at)]]:
            tally.add_ticket(ticket)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"totals": self.totals.figures()}
        for dim, tallies in self.groups.items():
            fields = EXPERT_FIELDS if dim in ("by_expert", "by_team") else None
            out[dim] = [
                {"key": key}
                | ({"name": self.names[dim][key]} if dim in self.names else {})
                | tally.figures(fields)
                for key, tally in sorted(tallies.items(), key=_none_last)
            ]
        out["weekly"] = [
            {"week": week} | tally.figures(WEEKLY_FIELDS) for week, tally in sorted(self.weekly.items())
        ]
        return out


async def compute_stats(
    session: AsyncSession,
    since: datetime | None = None,
    until: datetime | None = None,
    top_unanswered: int = 10,
    sites: Collection[str] | None = None,
) -> dict[str, Any]:
    """Figures for questions asked and tickets created in ``[since, until)`` (open ends when
    None), as a JSON-ready dict; see ``GET /api/admin/stats`` in docs/api.md."""
    _check_arguments(since, until, top_unanswered)
    report = _Report()
    report.names["by_team"] = {team: name for team, name in await session.execute(select(Team.id, Team.name))}
    scope = Scope(sites)
    for row in await _question_counts(session, since, until, scope):
        for tally in report.site_tallies(row):
            tally.add_questions(row.decision, row.solved, row.n)
    for row in await _rows(
        session,
        select(Question.asked_at, Question.decision, Question.solved),
        Question.asked_at,
        since,
        until,
        scope.of(Question.site_code),
    ):
        report.weekly[iso_week(row.asked_at)].add_questions(row.decision, row.solved)
    for ticket in await _tickets(session, since, until, scope):
        report.add_ticket(ticket)
    window = {
        name: moment and moment.astimezone(UTC).isoformat()
        for name, moment in (("since", since), ("until", until))
    }
    return {
        "window": window,
        **report.as_dict(),
        "unanswered": await _unanswered(session, since, until, top_unanswered, scope),
        "outbox": await _outbox(session),
    }


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def normalize_text(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip())


def _check_arguments(since: datetime | None, until: datetime | None, top: int) -> None:
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInputError(f"{name}: a timezone-aware datetime is required")
    if since is not None and until is not None and since >= until:
        raise InvalidInputError(f"since: {since.isoformat()} is not before until {until.isoformat()}")
    if top < 0:
        raise InvalidInputError(f"top_unanswered: must be 0 or more, not {top}")


def in_window(
    column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
    since: datetime | None,
    until: datetime | None,
) -> list[ColumnElement[bool]]:
    """``since <= column < until``, an open end left out (also used by ``bot.service.report``)."""
    return ([column >= since] if since else []) + ([column < until] if until else [])


@dataclass(frozen=True)
class Scope:
    sites: Collection[str] | None  # None: every site (and questions asked at none)

    def of(self, column: InstrumentedAttribute[str | None]) -> list[ColumnElement[bool]]:
        return [] if self.sites is None else [column.in_(list(self.sites))]


async def _rows(
    session: AsyncSession,
    query: Any,
    column: InstrumentedAttribute[datetime],
    since: datetime | None,
    until: datetime | None,
    scoped: list[ColumnElement[bool]],
) -> Sequence[Row[Any]]:
    return (await session.execute(query.where(*in_window(column, since, until), *scoped))).all()


async def _question_counts(
    session: AsyncSession, since: datetime | None, until: datetime | None, scope: Scope
) -> Sequence[Row[Any]]:
    """Question counts per (site, decision, solved), with the site's name/region/industry."""
    keys = (
        Question.site_code,
        Site.name.label("site_name"),
        Site.region,
        Site.industry,
        Question.decision,
        Question.solved,
    )
    query = (
        select(*keys, func.count().label("n"))
        .outerjoin(Site, Site.code == Question.site_code)
        .group_by(*keys)
    )
    return await _rows(session, query, Question.asked_at, since, until, scope.of(Question.site_code))


async def _tickets(
    session: AsyncSession, since: datetime | None, until: datetime | None, scope: Scope
) -> Sequence[Row[Any]]:
    query = (
        select(
            Ticket.site_code,
            Site.name.label("site_name"),
            Site.region,
            Site.industry,
            Ticket.expert_id,
            Expert.name.label("expert_name"),
            Expert.team_ids,
            Ticket.status,
            Ticket.created_at,
            Ticket.first_answer_at,
            Ticket.rating,
        )
        .outerjoin(Site, Site.code == Ticket.site_code)
        .outerjoin(Expert, Expert.id == Ticket.expert_id)
    )
    return await _rows(session, query, Ticket.created_at, since, until, scope.of(Ticket.site_code))


async def _unanswered(
    session: AsyncSession, since: datetime | None, until: datetime | None, top: int, scope: Scope
) -> list[dict[str, Any]]:
    """Never-answered tickets grouped by their text (whitespace collapsed), most frequent first."""
    query = select(Ticket.text, Ticket.site_code, Ticket.created_at).where(Ticket.first_answer_at.is_(None))
    groups: defaultdict[str, list[Row[Any]]] = defaultdict(list)
    for row in await _rows(session, query, Ticket.created_at, since, until, scope.of(Ticket.site_code)):
        if text := normalize_text(row.text):
            groups[text].append(row)
    ranked = sorted(
        groups.items(), key=lambda item: (-len(item[1]), min(r.created_at for r in item[1]), item[0])
    )
    return [
        {
            "text": text,
            "count": len(rows),
            "site_codes": sorted({r.site_code for r in rows if r.site_code is not None}),
            "oldest": min(r.created_at for r in rows).isoformat(),
        }
        for text, rows in ranked[:top]
    ]


async def _outbox(session: AsyncSession) -> dict[str, int]:
    delivered = OutboxEvent.delivered_at.is_not(None)
    dead = OutboxEvent.dead_at.is_not(None) & OutboxEvent.delivered_at.is_(None)
    query = select(func.count(), func.count(case((delivered, 1))), func.count(case((dead, 1))))
    total, done, given_up = (await session.execute(query.select_from(OutboxEvent))).one()
    return {"pending": total - done - given_up, "dead": given_up, "delivered": done}


def _none_last(item: tuple[Hashable, Any]) -> tuple[bool, str]:
    return item[0] is None, str(item[0])
