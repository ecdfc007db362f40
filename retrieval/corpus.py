"""What the index is built from: cases and experts read from the knowledge store, the texts
that represent them, and a checksum that tells whether an index still matches the store."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import Case, Expert

ANSWER_VIEW_CHARS = 300  # the answer's opening names the cause; the steps after it add little
CASE_VIEWS = ("title + question", "question", "title + answer")  # what CaseDoc.views returns


@dataclass(frozen=True)
class CaseDoc:
    id: str
    title: str
    question: str
    answer: str
    industry: str | None
    expert_id: str | None
    tags: tuple[str, ...] = ()

    @property
    def search_text(self) -> str:
        """Embedded and matched: what the worker's question is compared with."""
        return f"{self.title}。{self.question}"

    @property
    def views(self) -> tuple[str, ...]:
        """The texts a case is embedded as; a question is scored against the closest one. The
        worker's own wording on its own matches colloquial questions that the formal title
        would pull away, the title with the answer matches questions put in the trade's terms."""
        return (self.search_text, self.question, f"{self.title}。{self.answer[:ANSWER_VIEW_CHARS]}")

    @property
    def lexical_text(self) -> str:
        return f"{self.title}。{self.question} {' '.join(self.tags)}"


@dataclass(frozen=True)
class ExpertDoc:
    id: str
    name: str
    title: str | None
    org: str | None
    region: str | None
    industries: tuple[str, ...]
    skills: tuple[str, ...]
    bio: str | None

    @property
    def profile_text(self) -> str:
        text = f"技能：{'、'.join(self.skills)}。行业：{'、'.join(self.industries)}。"
        return text + (self.bio or "")


def case_doc(row: Case) -> CaseDoc:
    return CaseDoc(
        id=row.id,
        title=row.title,
        question=row.question,
        answer=row.answer,
        industry=row.industry,
        expert_id=row.expert_id,
        tags=tuple(row.tags or ()),
    )


def expert_doc(row: Expert) -> ExpertDoc:
    return ExpertDoc(
        id=row.id,
        name=row.name,
        title=row.title,
        org=row.org,
        region=row.region,
        industries=tuple(row.industries or ()),
        skills=tuple(row.skills or ()),
        bio=row.bio,
    )


@dataclass(frozen=True)
class Corpus:
    cases: list[CaseDoc]
    experts: list[ExpertDoc]

    @property
    def checksum(self) -> str:
        """Changes whenever anything the index is built from changes."""
        payload = json.dumps(
            [[asdict(c) for c in self.cases], [asdict(e) for e in self.experts]],
            ensure_ascii=False,
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


async def load_corpus(session: AsyncSession) -> Corpus:
    cases = (await session.scalars(select(Case).order_by(Case.id))).all()
    experts = (await session.scalars(select(Expert).order_by(Expert.id))).all()
    return Corpus(cases=[case_doc(c) for c in cases], experts=[expert_doc(e) for e in experts])
