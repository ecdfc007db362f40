"""The domain error tree. Raised inside the core, translated only at the edges
(HTTP status in ``bot/web``, a bot reply, a CLI one-line message and exit code).

CraftdeskError
├── KnowledgeFormatError      an import file is malformed (carries every problem found)
├── NotFoundError             an id (site, question, case, ticket...) does not exist
├── InvalidInputError         a request is well-formed but its content is not acceptable
├── AccessDeniedError         authenticated, but this role may not do that
├── ConflictError             the action collides with the current state (e.g. claimed)
├── IndexUnavailableError     no usable search index is loaded
└── MissingResourceError      the host lacks something a feature needs (e.g. a Chinese font)
"""

from __future__ import annotations

from dataclasses import dataclass


class CraftdeskError(Exception):
    """Base of every error the core raises on purpose."""


@dataclass(frozen=True)
class FormatProblem:
    """One problem in an import file: where it is and what is wrong."""

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.field:
            where += f": field '{self.field}'"
        return f"{where}: {self.message}"


class KnowledgeFormatError(CraftdeskError):
    def __init__(self, problems: list[FormatProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class NotFoundError(CraftdeskError):
    pass


class InvalidInputError(CraftdeskError):
    pass


class AccessDeniedError(CraftdeskError):
    pass


class ConflictError(CraftdeskError):
    pass


class IndexUnavailableError(CraftdeskError):
    pass


class MissingResourceError(CraftdeskError):
    pass
