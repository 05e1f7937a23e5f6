"""ATT&CK coverage: which techniques the ENABLED rules cover, laid out as the Enterprise matrix.

A rule tagged with a sub-technique (attack.t1071.004) also counts for its parent technique
(T1071), because the matrix shows parent techniques as cells; the sub-technique ids are listed
in the cell so the detail is not lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from detection.service import AttackCatalog, AttackDataError, RuleInfo, get_attack_catalog


@dataclass(frozen=True)
class Cell:
    """One technique in one tactic column, with the enabled rules that cover it."""

    technique_id: str
    name: str
    url: str
    rule_ids: tuple[str, ...]
    subtechniques: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.rule_ids)

    @property
    def band(self) -> str:
        """CSS class by count; the count is also printed, colour is never the only signal."""
        return (
            "cov-0"
            if not self.count
            else "cov-1"
            if self.count == 1
            else "cov-2"
            if self.count < 4
            else "cov-4"
        )


@dataclass(frozen=True)
class Column:
    """A tactic with its techniques in matrix order."""

    shortname: str
    name: str
    cells: tuple[Cell, ...]

    @property
    def covered(self) -> int:
        return sum(1 for cell in self.cells if cell.count)


@dataclass(frozen=True)
class Coverage:
    """The matrix, plus the rules' tags that name no known technique and the catalog's version."""

    version: str
    columns: tuple[Column, ...]
    unknown_tags: tuple[str, ...]
    enabled_rules: int

    @property
    def covered(self) -> int:
        return len(
            {cell.technique_id for column in self.columns for cell in column.cells if cell.count}
        )


def load_catalog() -> AttackCatalog | str:
    """The ATT&CK catalog, or the reason it cannot load (the page says so instead of failing)."""

    try:
        return get_attack_catalog()
    except AttackDataError as exc:
        return str(exc)


def coverage(*, catalog: AttackCatalog, rules: Sequence[tuple[RuleInfo, bool]]) -> Coverage:
    """Build the matrix from (rule, enabled) pairs; disabled rules cover nothing."""
    by_technique: dict[str, list[str]] = {}
    subs: dict[str, set[str]] = {}
    unknown: list[str] = []
    enabled = [info for info, on in rules if on]
    for info in enabled:
        context = catalog.resolve_tags(info.tags)
        unknown.extend(context.unknown)
        for technique in context.techniques:
            parent = technique.id.split(".")[0]
            ids = by_technique.setdefault(parent, [])
            if info.rule_id not in ids:
                ids.append(info.rule_id)
            if technique.is_subtechnique:
                subs.setdefault(parent, set()).add(technique.id)
    matrix = catalog.all_techniques(subtechniques=False)
    columns = []
    for tactic in catalog.tactics():
        cells = tuple(
            Cell(
                technique_id=t.id,
                name=t.name,
                url=t.url,
                rule_ids=tuple(by_technique.get(t.id, ())),
                subtechniques=tuple(sorted(subs.get(t.id, ()))),
            )
            for t in matrix.get(tactic.shortname, ())
        )
        columns.append(Column(tactic.shortname, tactic.name, cells))
    return Coverage(
        version=catalog.version,
        columns=tuple(columns),
        unknown_tags=tuple(dict.fromkeys(unknown)),
        enabled_rules=len(enabled),
    )
