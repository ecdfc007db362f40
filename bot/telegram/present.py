"""Turning service results into Telegram HTML text. Every value from a user or the
database is escaped here, so no handler formats text itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta, timezone
from html import escape
from typing import Any
from urllib.parse import quote

from bot import texts
from bot.service.tickets import worker_stage
from knowledge.models import Expert, Site, Ticket
from retrieval.classes import ClassHit

MAX_TEXT = 3500  # Telegram's limit is 4096 characters after entities are parsed
CHINA = timezone(timedelta(hours=8), "北京时间")  # no daylight saving: a fixed offset will do
WHEN_FORMAT = "%m-%d %H:%M"


def ref(ticket_id: str) -> str:
    """A short ticket reference people can read out."""
    return f"#{ticket_id[:8]}"


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def e(value: Any) -> str:
    return escape(str(value if value is not None else ""), quote=False)


def title_part(title: str | None) -> str:
    return f"（{e(title)}）" if title else ""


def stars(rating: int | None) -> str:
    return "★" * rating if rating else "—"


def welcome(site: Site | None) -> str:
    return texts.TG_WELCOME_SITE.format(site=e(site.name)) if site else texts.TG_WELCOME


def suggestion(title: str, answer: str, solved_by: str | None = None) -> str:
    text = texts.TG_SUGGESTION.format(title=e(title), answer=e(clip(answer)))
    return f"{text}\n<i>{e(texts.CASE_CREDIT.format(name=solved_by))}</i>" if solved_by else text


def related_classes(hits: Sequence[ClassHit], public_url: str) -> str:
    """相关课程: the upcoming classes on the question's subject, each with its page's link."""
    lines = [texts.TG_RELATED_CLASSES]
    for hit in hits:
        doc = hit.doc
        link = f"\n{e(public_url)}/classes?class={quote(doc.id, safe='')}" if public_url else ""
        lines.append(
            texts.TG_RELATED_CLASS_LINE.format(
                title=e(doc.title),
                kind=texts.CLASS_KINDS.get(doc.kind, ""),
                when=doc.starts_at.astimezone(CHINA).strftime(WHEN_FORMAT),
                link=link,
            )
        )
    return "\n".join(lines)


def class_recording(title: str, url: str) -> str:
    return texts.TG_CLASS_RECORDING.format(title=e(title), url=e(url))


def proposal(title: str, answer: str) -> str:
    return texts.TG_EXPERT_PROPOSAL.format(title=e(title), answer=e(clip(answer)))


def ticket_opened(expert: Expert | None) -> str:
    head = (
        texts.TG_TICKET_TO_EXPERT.format(name=e(expert.name), title=title_part(expert.title))
        if expert
        else texts.TG_TICKET_TO_TEAM
    )
    return f"{head}\n{texts.TG_TICKET_HINT}"


def answer(name: str | None, title: str | None, text: str) -> str:
    body = texts.TG_ANSWER.format(name=e(name or ""), title=title_part(title), text=e(clip(text)))
    return f"{body}\n\n{texts.TG_ANSWER_HINT}"


def my_tickets(tickets: list[Ticket], experts: dict[str, Expert]) -> str:
    if not tickets:
        return texts.TG_MY_EMPTY
    lines = [texts.TG_MY_HEADER]
    for ticket in tickets:
        expert = experts.get(ticket.expert_id or "")
        lines.append(
            texts.TG_MY_LINE.format(
                ref=ref(ticket.id),
                status=texts.WORKER_STATUS[worker_stage(ticket)],
                when=ticket.created_at.astimezone(CHINA).strftime(WHEN_FORMAT),
                text=e(clip(ticket.text, 40)),
                expert=texts.TG_MY_EXPERT.format(name=e(expert.name)) if expert else "",
            )
        )
    return "\n".join(lines)


def expert_ticket(ticket_id: str, text: str, site: Site | None, team: str | None) -> str:
    """``team``: the team it is offered to (first claim wins), None when it is the expert's own."""
    return texts.TG_EXPERT_TICKET.format(
        ref=ref(ticket_id),
        tier=texts.TG_EXPERT_TEAM_TIER.format(team=e(team)) if team else "",
        text=e(clip(text)),
        site=texts.TG_EXPERT_SITE.format(site=e(site.name)) if site else "",
    )


def reminder(ticket_id: str, text: str, site: Site | None, minutes: int | None) -> str:
    """The reminder before an unclaimed ticket moves on; answered by claiming, as a new one."""
    return texts.TG_EXPERT_REMINDER.format(
        ref=ref(ticket_id),
        minutes=minutes or 1,
        text=e(clip(text)),
        site=texts.TG_EXPERT_SITE.format(site=e(site.name)) if site else "",
    )


def team_tier(ticket: Ticket) -> str | None:
    """What an offered ticket's team is called when its name is not at hand (a queue listing)."""
    return texts.TEAM_TIERS.get(ticket.tier) if ticket.expert_id is None else None


def followup(ticket_id: str, text: str) -> str:
    return texts.TG_EXPERT_FOLLOWUP.format(ref=ref(ticket_id), text=e(clip(text)))


def queue(tickets: list[Ticket]) -> str:
    if not tickets:
        return texts.TG_QUEUE_EMPTY
    lines = [texts.TG_QUEUE_HEADER]
    lines += [
        texts.TG_QUEUE_LINE.format(
            ref=ref(t.id), status=texts.EXPERT_STATUS[t.status], text=e(clip(t.text, 60))
        )
        for t in tickets
    ]
    return "\n".join(lines)


def stats(figures: dict[str, Any]) -> str:
    totals = dict(figures["totals"])
    median = totals.pop("median_first_response_minutes")
    rating = totals.pop("rating_average")
    return texts.TG_STATS.format(
        **totals, median="—" if median is None else median, rating="—" if rating is None else rating
    )


def reindex(state: dict[str, Any]) -> str:
    return texts.TG_REINDEX.format(
        state=texts.TG_REINDEX_STATES.get(state["state"], state["state"]),
        done=state["done"],
        total=state["total"],
    )
