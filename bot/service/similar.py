"""Past cases similar to a ticket's question: the expert's starting point next to the thread.

The same retrieval as asking (dense + lexical, ranked by the calibrated probability), without
logging a question or ranking experts for it. Only cases at or above the confirm threshold are
listed, the floor below which the policy would not show a case to a worker either: an expert
shown a cold-store case for a lathe alarm learns to ignore the list.
"""

from __future__ import annotations

import asyncio

from retrieval.holder import IndexHolder
from retrieval.search import CaseHit, Retriever


async def similar_cases(
    retriever: Retriever, holder: IndexHolder, text: str, limit: int = 5
) -> list[CaseHit]:
    """Past cases plausible for ``text``, most likely first; none while no index is loaded."""
    index = holder.current
    if index is None or not text.strip():
        return []

    def work() -> list[CaseHit]:
        exam = retriever.examine_text(index, text)
        _, floor = retriever.case_thresholds(exam)  # the verifier's when it read the candidates
        return [hit for hit in retriever.decide(index, exam).cases[:limit] if hit.score >= floor]

    return await asyncio.to_thread(work)
