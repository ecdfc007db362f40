"""Past cases similar to a ticket's question: the expert's starting point next to the thread.

The same retrieval as asking (dense + lexical, ranked by the calibrated probability), without
logging a question or ranking experts for it.
"""

from __future__ import annotations

import asyncio

from retrieval.holder import IndexHolder
from retrieval.search import CaseHit, Retriever


async def similar_cases(retriever: Retriever, holder: IndexHolder, text: str,
                        limit: int = 5) -> list[CaseHit]:
    """Best past cases for ``text``, most likely first; none while no index is loaded."""
    index = holder.current
    if index is None or not text.strip():
        return []

    def work() -> list[CaseHit]:
        exam = retriever.examine_text(index, text)
        return retriever.decide(index, exam).cases[:limit]

    return await asyncio.to_thread(work)
