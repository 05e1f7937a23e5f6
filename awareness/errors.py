"""Errors of the awareness domain; each names the file, line and field of bad content."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import DijkwachtError, NotFoundError


@dataclass(frozen=True)
class ContentProblem:
    """One problem in authored content, located precisely so an editor can fix it."""

    path: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.field}: {self.message}"


class ContentError(DijkwachtError):
    """Content failed to load; carries every problem found, not only the first."""

    def __init__(self, problems: list[ContentProblem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


class UnknownContentError(NotFoundError):
    """A topic, audience, language or output that does not exist was asked for."""
