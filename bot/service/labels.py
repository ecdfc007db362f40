"""Labelled question-case pairs the product produces as it is used (see DecisionLabel): the
data a refit of the decision policy learns from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import DecisionLabel
from knowledge.states import LabelSource


async def record_label(
    session: AsyncSession, question_id: str, case_id: str, answers: bool, source: LabelSource, now: datetime
) -> None:
    """Add the pair in the caller's transaction; the same source saying it again overwrites."""
    label = await session.scalar(
        select(DecisionLabel).where(
            DecisionLabel.question_id == question_id,
            DecisionLabel.case_id == case_id,
            DecisionLabel.source == source,
        )
    )
    if label is None:
        session.add(
            DecisionLabel(
                question_id=question_id, case_id=case_id, answers=answers, source=source, created_at=now
            )
        )
    else:
        label.answers, label.created_at = answers, now


async def label_counts(session: AsyncSession) -> dict[str, dict[str, int]]:
    """{source: {"yes": n, "no": m}} for the admin page."""
    rows = await session.execute(
        select(DecisionLabel.source, DecisionLabel.answers, func.count()).group_by(
            DecisionLabel.source, DecisionLabel.answers
        )
    )
    counts: dict[str, dict[str, int]] = {}
    for source, answers, n in rows.all():
        counts.setdefault(source, {"yes": 0, "no": 0})["yes" if answers else "no"] += n
    return counts
