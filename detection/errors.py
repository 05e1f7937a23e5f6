"""Errors of the detection engine."""

from __future__ import annotations

from core.errors import DijkwachtError


class CompileError(DijkwachtError):
    """A rule uses something the matcher cannot evaluate; the rule is skipped, with this reason."""
