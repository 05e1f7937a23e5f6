"""What loading rule files produces, before the rules are assembled into engines.

Shared by the loader (``detection.service``) and the compile cache (``detection.compile_cache``),
which stores ``LoadedPart``s per rule file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.content import Issue
from detection.compiler import CompiledRule


@dataclass(frozen=True)
class RuleInfo:
    """What an alert needs to say about a rule."""

    rule_id: str
    title: str
    level: str | None
    tags: tuple[str, ...]
    path: str | None
    kind: str = "rule"  # or "correlation"


@dataclass(frozen=True)
class Skipped:
    """A rule that loaded but does not run under one stack, and why."""

    rule_id: str
    stack: str
    reason: str


@dataclass(frozen=True)
class LoadedPart:
    """Rules of some files compiled under every stack; numbers count within the part."""

    infos: list[RuleInfo]
    problems: list[Issue]
    skipped: list[Skipped]
    compiled: list[tuple[str, int, CompiledRule]]  # (stack label, rule number, compiled)
    attributes: list[dict[str, Any]] = field(default_factory=list)  # per rule: dijkwacht.*
