"""The roster kept on /admin: an expert or a site added, edited or (de)activated one at a time,
checked exactly like a line of an import file (``knowledge.interchange``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.tickets import TicketService
from knowledge.errors import FormatProblem, KnowledgeFormatError, NotFoundError
from knowledge.interchange import (
    EXPERTS,
    SITES,
    Kind,
    revoke_inactive_tokens,
    row_to_record,
    save_record,
    validate_record,
)
from knowledge.models import Expert, Site

# what the search index holds of an expert (``retrieval.corpus.ExpertDoc``): a change to one of
# these needs a rebuild before the ranking sees it; active and capacity are read live
INDEXED_EXPERT_FIELDS = ("name", "title", "org", "region", "industries", "skills", "bio")


@dataclass(frozen=True)
class Saved:
    outcome: str  # "created", "updated" or "unchanged"
    needs_reindex: bool = False
    released_tickets: int = 0  # unanswered tickets of a deactivated expert that moved on


async def stored_record(session: AsyncSession, kind: Kind[Any], key: str) -> dict[str, Any]:
    """One expert or site as its interchange object (the form on /admin starts from it)."""
    row = await session.get(kind.model, key)
    if row is None:
        raise NotFoundError(f"no {kind.file.removesuffix('s.jsonl')} {key!r}")
    return row_to_record(row, kind)


def _validated(kind: Kind[Any], key: str, raw: object) -> Any:
    name = kind.file.removesuffix("s.jsonl")
    if isinstance(raw, dict):
        raw = {kind.key: key} | raw
        if raw[kind.key] != key:
            raise KnowledgeFormatError(
                [FormatProblem(name, None, kind.key, f"must be {key!r}, as in the address")]
            )
    record, problems = validate_record(kind, raw, name, None)
    if record is None:
        raise KnowledgeFormatError(problems)
    return record


async def save_expert(session: AsyncSession, tickets: TicketService, expert_id: str, raw: object) -> Saved:
    """Add or replace one expert. A deactivated expert's login links stop working and their
    unanswered tickets move on to the next expert."""
    record = _validated(EXPERTS, expert_id, raw)
    before = await session.get(Expert, expert_id)
    indexed_before = None if before is None else [getattr(before, f) for f in INDEXED_EXPERT_FIELDS]
    was_active = before is not None and before.active
    outcome = await save_record(session, EXPERTS, record)
    await revoke_inactive_tokens(session)
    await session.commit()
    released = await tickets.release(session, expert_id) if was_active and not record.active else 0
    indexed_after = [getattr(record, f) for f in INDEXED_EXPERT_FIELDS]
    return Saved(outcome, needs_reindex=indexed_before != indexed_after, released_tickets=released)


async def save_site(session: AsyncSession, code: str, raw: object) -> Saved:
    """Add or replace one site; an inactive site's QR code shows a notice instead of the chat."""
    outcome = await save_record(session, SITES, _validated(SITES, code, raw))
    await session.commit()
    return Saved(outcome)


async def active_site(session: AsyncSession, code: str) -> Site | None:
    """The site a worker may ask at: None for an unknown or deactivated code."""
    site = await session.get(Site, code)
    return site if site is not None and site.active else None
