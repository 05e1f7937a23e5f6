"""Errors of the awareness domain; each names the file, line and field of bad content."""

from __future__ import annotations

from core.content import Issue
from core.errors import DijkwachtError, NotFoundError


class ContentError(DijkwachtError):
    """Content failed to load; carries every problem found (``core.content.Issue``), not one."""

    def __init__(self, problems: list[Issue]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


class UnknownContentError(NotFoundError):
    """A topic, audience, language or output that does not exist was asked for."""
