"""The pairs a verifier learns from: labelled pairs (stored by the product, or a JSON Lines file)
and views of the knowledge base itself, split by question so none is learnt and judged both.

Why knowledge-base views are only an addition: a case's own question pairs with the case text
that contains it, which teaches copying more than answering; a verifier trained on them alone
failed on real worker questions. Labelled pairs carry the workers' own words.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import FormatProblem, KnowledgeFormatError
from knowledge.interchange import CASES, parse_file
from knowledge.models import DecisionLabel, Question
from retrieval.corpus import CaseDoc
from retrieval.evaluation import LabelRow, queries_from_labels

KNOWLEDGE = "knowledge"  # the source of knowledge-base views
FILE = "file"  # the source of pairs read from --labels


@dataclass(frozen=True)
class LabelledPair:
    question: str
    case_id: str
    answers: bool
    source: str  # expert / worker / published (stored), file, knowledge


def read_cases(folder: Path) -> list[CaseDoc]:
    """The cases of a knowledge folder (``cases.jsonl``, docs/knowledge-format.md)."""
    path = folder / CASES.file
    if not path.is_file():
        raise KnowledgeFormatError([FormatProblem(str(path), None, None, "not found")])
    records, problems = parse_file(path, CASES)
    if problems:
        raise KnowledgeFormatError(problems)
    return [
        CaseDoc(r.id, r.title, r.question, r.answer, r.industry, r.expert_id, tuple(r.tags))
        for _, r in records
    ]


def read_label_file(path: Path, case_ids: set[str]) -> list[LabelledPair]:
    """Lines ``{"question": ..., "case_id": ..., "answers": true}``. Every problem is collected
    and raised together as ``KnowledgeFormatError`` with file:line: field."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeFormatError([FormatProblem(str(path), None, None, f"cannot be read: {exc}")]) from None
    problems: list[FormatProblem] = []
    pairs: list[LabelledPair] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            found = _label_problems(line, case_ids)
            problems += [FormatProblem(str(path), number, field, message) for field, message in found]
            if not found:
                raw = json.loads(line)
                pairs.append(LabelledPair(raw["question"].strip(), raw["case_id"], raw["answers"], FILE))
    if problems:
        raise KnowledgeFormatError(problems)
    return pairs


def _label_problems(line: str, case_ids: set[str]) -> list[tuple[str | None, str]]:
    """(field, what is wrong) for one line of a label file; empty when it is fine."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        return [(None, f"not valid JSON: {exc.msg} (column {exc.colno})")]
    if not isinstance(raw, dict):
        return [(None, "expected a JSON object")]
    found: list[tuple[str | None, str]] = []
    if not isinstance(raw.get("question"), str) or not raw["question"].strip():
        found.append(("question", "required, a non-empty string"))
    if not isinstance(raw.get("case_id"), str):
        found.append(("case_id", "required, a case id"))
    elif raw["case_id"] not in case_ids:
        found.append(("case_id", f"no case {raw['case_id']!r} in the knowledge base"))
    if not isinstance(raw.get("answers"), bool):
        found.append(("answers", "required, true or false"))
    return found


async def label_rows(session: AsyncSession) -> list[LabelRow]:
    """Every pair in ``decision_labels`` as (label id, question text, site, case id, answers,
    source): what ``queries_from_labels`` reads."""
    labels = await session.execute(
        select(
            DecisionLabel.id,
            Question.text,
            Question.site_code,
            DecisionLabel.case_id,
            DecisionLabel.answers,
            DecisionLabel.source,
        ).join(Question, Question.id == DecisionLabel.question_id)
    )
    return [
        (label_id, text, site, case_id, answers, source)
        for label_id, text, site, case_id, answers, source in labels.all()
    ]


async def stored_pairs(session: AsyncSession) -> list[LabelledPair]:
    """The pairs in ``decision_labels`` with their questions' text; where sources disagree on a
    pair, the same precedence as the policy's refit (``queries_from_labels``) decides."""
    rows = await label_rows(session)
    by_label = {f"L{row[0]}": row for row in rows}
    # queries_from_labels keeps one label per (text, case) and drops a declined case's id,
    # so the id it names is used to find the row again
    return [
        LabelledPair(row[1].strip(), row[3], bool(row[4]), row[5])
        for row in (by_label[q.id] for q in queries_from_labels(rows))
    ]


def knowledge_views(cases: list[CaseDoc], vectors: np.ndarray, negatives: int = 2) -> list[LabelledPair]:
    """Each case's own question with its case (answers) and with its ``negatives`` nearest
    other cases by embedding (look-alikes that do not)."""
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    pairs = []
    for i, case in enumerate(cases):
        pairs.append(LabelledPair(case.question, case.id, True, KNOWLEDGE))
        for j in np.argsort(-similarity[i], kind="stable")[:negatives]:
            pairs.append(LabelledPair(case.question, cases[j].id, False, KNOWLEDGE))
    return pairs


def grouped_split(
    pairs: list[LabelledPair],
    held_out: float,
    seed: int = 7,
) -> tuple[list[LabelledPair], list[LabelledPair]]:
    """(train, test): whole questions go to one side, about ``held_out`` of them to test."""
    questions = sorted({p.question for p in pairs})
    rng = np.random.default_rng(seed)
    rng.shuffle(questions)
    test_questions = set(questions[: max(1, round(len(questions) * held_out))])
    return (
        [p for p in pairs if p.question not in test_questions],
        [p for p in pairs if p.question in test_questions],
    )


def label_counts(pairs: list[LabelledPair]) -> dict[str, dict[str, int]]:
    """{source: {"yes": n, "no": m}}, as the manifest and the admin page show them."""
    counts = Counter((p.source, p.answers) for p in pairs)
    return {
        source: {"yes": counts[(source, True)], "no": counts[(source, False)]}
        for source in sorted({p.source for p in pairs})
    }
