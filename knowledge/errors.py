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
    line: int | None  # the line of a JSON Lines file, the row of a sheet
    field: str | None
    message: str
    sheet: str | None = None  # a workbook's sheet (None for JSON Lines and CSV)
    column: str | None = None  # a sheet's column as written, with its field: "专长 (skills)"

    def __str__(self) -> str:
        if self.sheet is not None or self.column is not None:  # file:sheet:row:column: message
            parts = (self.file, self.sheet, self.line, self.column)
            return ":".join(str(part) for part in parts if part is not None) + f": {self.message}"
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.field:
            where += f": field '{self.field}'"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, str | int | None]:
        """The problem as an API answer lists it (a JSON Lines field stands in for a column)."""
        return {
            "file": self.file,
            "sheet": self.sheet,
            "row": self.line,
            "column": self.column or self.field,
            "message": self.message,
        }


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
