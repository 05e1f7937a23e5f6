"""The one located problem type for authored content (rules, playbooks, scenarios, topics, forms).

Every loader and validator reports ``Issue`` values instead of raising, so a caller can show all
problems of a file at once and keep running everything that did load.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]
DataPath = tuple[str | int, ...]


def field_name(path: Iterable[str | int]) -> str:
    """``("steps", 2, "sla")`` -> ``steps[2].sla``; the empty path is ``(document)``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def parse_field_name(text: str) -> DataPath:
    """``steps[2].sla`` -> ``("steps", 2, "sla")``: the inverse of ``field_name``."""
    path: list[str | int] = []
    for part in text.split("."):
        name, *indexes = part.split("[")
        if name:
            path.append(name)
        path += [int(index.rstrip("]")) for index in indexes if index.rstrip("]").isdigit()]
    return tuple(path)


@dataclass(frozen=True)
class Issue:
    """One problem in one content file, printed as ``source:line: [item: ]field: message``.

    ``item`` names the thing inside a multi-item file the problem belongs to (``rule <id>``);
    ``line`` is None only when the file could not be read at all.
    """

    source: str
    line: int | None
    field: str
    message: str
    severity: Severity = "error"
    item: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        item = f"{self.item}: " if self.item else ""
        level = "warning: " if self.severity == "warning" else ""
        return f"{where}: {level}{item}{self.field}: {self.message}"


def has_errors(issues: Iterable[Issue]) -> bool:
    """Whether any issue is an error (warnings alone do not reject a file)."""
    return any(issue.is_error for issue in issues)
