"""The index a running process serves, swapped atomically when a newer one is complete."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from knowledge.errors import IndexUnavailableError
from retrieval.index import KnowledgeIndex, current_version, load_index

log = logging.getLogger(__name__)

REBUILD_HINT = "rebuild with: python scripts/rebuild_index.py (or POST /api/admin/reindex)"


class IndexHolder:
    """Holds the current index, or None with the reason. A request reads ``current`` once and
    keeps that object, so a swap never hands it a half-built index."""

    def __init__(self, index_dir: Path, model_id: str):
        self.index_dir = index_dir
        self.model_id = model_id
        self.current: KnowledgeIndex | None = None
        self.problem: str | None = "no index loaded"

    def swap(self, index: KnowledgeIndex) -> None:
        self.current, self.problem = index, None
        log.info("serving index", extra={"version": index.version, "cases": len(index.cases)})

    def load(self) -> bool:
        """Load the index on disk; on failure keep serving nothing and say how to fix it."""
        try:
            self.swap(load_index(self.index_dir, self.model_id))
            return True
        except IndexUnavailableError as exc:
            self.current, self.problem = None, str(exc)
            log.error(
                "no usable index, every question is routed; %s", REBUILD_HINT, extra={"problem": str(exc)}
            )
            return False

    async def follow(self, interval: float = 2.0) -> None:
        """Pick up an index another process (the rebuild script) finished, without restart."""
        unusable: str | None = None
        while True:
            await asyncio.sleep(interval)
            on_disk = current_version(self.index_dir)
            serving = self.current.version if self.current else None
            if on_disk and on_disk not in (serving, unusable):
                try:
                    index = await asyncio.to_thread(load_index, self.index_dir, self.model_id)
                except IndexUnavailableError as exc:
                    unusable = on_disk
                    log.warning(
                        "newer index on disk is unusable, keeping the current one",
                        extra={"problem": str(exc)},
                    )
                    continue
                if current_version(self.index_dir) == index.version:
                    self.swap(index)
