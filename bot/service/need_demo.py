"""The demo's needs lists (``knowledge/demo/needs.jsonl``), so a fresh checkout's /admin shows a
need in every state. Times are given in days before the import (``days_ago``,
``help_days_ago``: negative is ahead), so the demo's needs stay recent whenever it is imported.
Demo filers hold no status link: the stored token hash is of a token nobody was given."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.need_form import NeedForm
from bot.service.secrets import new_token, token_hash
from knowledge.models import Need, NeedExpert
from knowledge.states import HelpMode, MatchState, NeedOutcome, NeedStatus

FILE = "needs.jsonl"


def demo_need(row: dict[str, Any], now: datetime) -> tuple[Need, list[NeedExpert]]:
    form = NeedForm(
        station_id=row["station_id"],
        enterprise=row["enterprise"],
        contact_name=row["contact_name"],
        contact_phone=row["contact_phone"],
        problem=row["problem"],
        help_wanted=row["help_wanted"],
        industry=row.get("industry"),
        region=row.get("region"),
        urgency=row.get("urgency", "normal"),
        workers_affected=row.get("workers_affected", 0),
    ).checked()
    filed = now - timedelta(days=row["days_ago"])
    status = NeedStatus(row["status"])
    help_at = now - timedelta(days=row["help_days_ago"]) if "help_days_ago" in row else None
    need = Need(
        id=row["id"],
        token_hash=token_hash(new_token()),
        status=status,
        created_at=filed,
        matched_at=filed + timedelta(hours=4) if row["experts"] else None,
        scheduled_at=filed + timedelta(days=1) if help_at else None,
        help_mode=HelpMode(row["help_mode"]) if "help_mode" in row else None,
        help_at=help_at,
        help_place=row.get("help_place"),
        outcome=NeedOutcome(row["outcome"]) if "outcome" in row else None,
        outcome_note=row.get("outcome_note"),
        workers_helped=row.get("workers_helped"),
        closed_at=help_at + timedelta(hours=3) if help_at and status == NeedStatus.DONE else None,
        photos=[],
        **{k: getattr(form, k) for k in ("station_id", "enterprise", "contact_name", "contact_phone")},
        **{k: getattr(form, k) for k in ("industry", "region", "problem", "urgency", "help_wanted")},
        workers_affected=form.workers_affected,
    )
    matches = [
        NeedExpert(
            need_id=need.id,
            expert_id=m["id"],
            state=MatchState(m["state"]),
            matched_at=filed + timedelta(hours=4),
            responded_at=filed + timedelta(hours=8) if m["state"] != MatchState.ASKED else None,
        )
        for m in row["experts"]
    ]
    return need, matches


async def import_demo_needs(session: AsyncSession, folder: Path, now: datetime) -> int:
    """Add the demo needs (after the demo's stations and experts); returns how many."""
    path = folder / FILE
    if not path.is_file():
        return 0
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        need, matches = demo_need(row, now)
        session.add(need)
        await session.flush()
        session.add_all(matches)
    await session.commit()
    return len(rows)
