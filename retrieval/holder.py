"""The index a running process serves, swapped atomically when a rebuild completes."""

from __future__ import annotations

import threading
from typing import Protocol


class Versioned(Protocol):
    version: str


class IndexHolder:
    """Holds the current index (or None, with the reason). Readers take ``current`` once per
    request and keep using that object, so a swap never hands them a half-built index."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current: Versioned | None = None
        self.problem: str | None = "no index loaded"

    def swap(self, index: Versioned) -> None:
        with self._lock:
            self.current = index
            self.problem = None

    def clear(self, problem: str) -> None:
        with self._lock:
            self.current = None
            self.problem = problem
