"""Errors every layer raises; the dashboard maps them to HTTP statuses, the CLI to messages."""

from __future__ import annotations


class DijkwachtError(Exception):
    """Base of every error the platform raises on purpose."""


class ConfigError(DijkwachtError):
    """A setting is missing or invalid; start-up stops with this message."""


class ValidationError(DijkwachtError):
    """Input was rejected; `field` names what was wrong so the user can fix it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotFoundError(DijkwachtError):
    """A requested record does not exist."""


class ConflictError(DijkwachtError):
    """The request conflicts with the current state (duplicate, illegal transition)."""
