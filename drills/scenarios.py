"""The scenario library: YAML files loaded into `Scenario`, every error with file, line, field.

The YAML is composed once into nodes to learn the line of every data path
(`msel[3].to[0]` → line 41), then constructed and validated by pydantic. Cross-field rules
are small checks (`CHECKS`), one rule each, that return issues at a path.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pydantic
import yaml

from core.errors import DijkwachtError
from drills.schemas import LoadedScenario, Scenario, ScenarioIssue

# libyaml when present: the pure-Python parser made every beat tick parse for seconds.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
DataPath = tuple[str | int, ...]


class ScenarioError(DijkwachtError):
    """One or more scenario files are invalid; `issues` says where and why."""

    def __init__(self, issues: Sequence[ScenarioIssue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = list(issues)


def field_name(path: DataPath) -> str:
    """`("msel", 3, "to", 0)` → `msel[3].to[0]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _lines(node: yaml.Node, path: DataPath, lines: dict[DataPath, int]) -> list[DataPath]:
    """Fill `lines` for every path below `node`; return keys that occur twice in one mapping."""
    duplicates: list[DataPath] = []
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            child = (*path, key)
            if key in seen:
                duplicates.append(child)
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            duplicates += _lines(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            duplicates += _lines(item, (*path, index), lines)
    return duplicates


def _line_of(lines: dict[DataPath, int], path: DataPath) -> int | None:
    """The line of `path`, or of its nearest parent (a missing field: the mapping lacking it)."""
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path)


# -- cross-field checks, one rule each ---------------------------------------------------------

Check = Callable[[Scenario], Iterable[tuple[DataPath, str]]]


def _check_unique_ids(scenario: Scenario) -> Iterable[tuple[DataPath, str]]:
    for section in ("objectives", "msel", "expectations", "criteria"):
        seen: set[str] = set()
        for index, item in enumerate(getattr(scenario, section)):
            if item.id in seen:
                yield (section, index, "id"), f"duplicate id {item.id!r}"
            seen.add(item.id)


def _check_roles_declared(scenario: Scenario) -> Iterable[tuple[DataPath, str]]:
    declared = set(scenario.roles)
    for index, inject in enumerate(scenario.msel):
        for position, role in enumerate(inject.to):
            if role not in declared:
                yield ("msel", index, "to", position), f"role {role!r} is not in roles"
    for index, expectation in enumerate(scenario.expectations):
        if expectation.role not in declared:
            yield ("expectations", index, "role"), f"role {expectation.role!r} is not in roles"


def _check_objective_refs(scenario: Scenario) -> Iterable[tuple[DataPath, str]]:
    known = {objective.id for objective in scenario.objectives}
    for section in ("msel", "expectations"):
        for index, item in enumerate(getattr(scenario, section)):
            for position, ref in enumerate(item.objectives):
                if ref not in known:
                    yield (section, index, "objectives", position), f"unknown objective {ref!r}"


def _check_msel_order(scenario: Scenario) -> Iterable[tuple[DataPath, str]]:
    for index in range(1, len(scenario.msel)):
        if scenario.msel[index].at_minute < scenario.msel[index - 1].at_minute:
            yield ("msel", index, "at_minute"), "injects must be in time order"


def _check_technical(scenario: Scenario) -> Iterable[tuple[DataPath, str]]:
    has_events = any(inject.events is not None for inject in scenario.msel)
    if "technical" in scenario.modes and not has_events:
        yield ("modes",), "a technical scenario needs at least one inject with events"
    for index, expectation in enumerate(scenario.expectations):
        if expectation.kind == "detection" and not expectation.rule_id:
            yield ("expectations", index, "rule_id"), "a detection expectation names its rule"
        if expectation.kind == "playbook_step" and not expectation.step:
            yield ("expectations", index, "step"), "a playbook_step expectation names its step"


def _check_grip(scenario: Scenario) -> Iterable[tuple[DataPath, str]]:
    for index in range(1, len(scenario.grip)):
        if scenario.grip[index].level <= scenario.grip[index - 1].level:
            yield ("grip", index, "level"), "GRIP levels only go up during a scenario"


def _check_criteria_metrics(scenario: Scenario) -> Iterable[tuple[DataPath, str]]:
    measured = {e.metric for e in scenario.expectations if e.metric}
    for index, criterion in enumerate(scenario.criteria):
        if criterion.metric not in measured:
            yield (
                ("criteria", index, "metric"),
                f"no expectation measures {criterion.metric!r}, so it can never be scored",
            )


CHECKS: tuple[Check, ...] = (
    _check_unique_ids,
    _check_roles_declared,
    _check_objective_refs,
    _check_msel_order,
    _check_technical,
    _check_grip,
    _check_criteria_metrics,
)


def _pydantic_path(loc: Sequence[str | int]) -> DataPath:
    # Pydantic puts the alias in `loc` (`from`), which is what the author wrote: keep it.
    return tuple(
        part for part in loc if not (isinstance(part, str) and part.startswith("function"))
    )


def parse(text: str, *, file: str) -> tuple[LoadedScenario | None, list[ScenarioIssue]]:
    """Validate one scenario text; return it (or None) and every issue found."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        return None, [
            ScenarioIssue(file=file, line=line, field="(syntax)", problem=str(exc.problem))
        ]
    if node is None or not isinstance(data, dict):
        return None, [
            ScenarioIssue(file=file, line=1, field="(document)", problem="must be a mapping")
        ]
    lines: dict[DataPath, int] = {}
    issues = [
        ScenarioIssue(
            file=file, line=lines.get(path), field=field_name(path), problem="duplicate key"
        )
        for path in _lines(node, (), lines)
    ]
    try:
        scenario = Scenario.model_validate(data)
    except pydantic.ValidationError as exc:
        for error in exc.errors():
            path = _pydantic_path(error["loc"])
            issues.append(
                ScenarioIssue(
                    file=file,
                    line=_line_of(lines, path),
                    field=field_name(path),
                    problem=error["msg"],
                )
            )
        return None, issues
    for check in CHECKS:
        for path, problem in check(scenario):
            issues.append(
                ScenarioIssue(
                    file=file, line=_line_of(lines, path), field=field_name(path), problem=problem
                )
            )
    if issues:
        return None, issues
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return LoadedScenario(scenario=scenario, path=file, sha256=digest), []


def load_file(path: Path) -> LoadedScenario:
    """One valid scenario from `path`; ScenarioError with every issue otherwise."""
    loaded, issues = parse(path.read_text(encoding="utf-8"), file=str(path))
    if loaded is None:
        raise ScenarioError(issues)
    return loaded


def check_directory(directory: Path) -> list[ScenarioIssue]:
    """Every issue of every scenario file in `directory`, plus ids used twice."""
    issues: list[ScenarioIssue] = []
    owners: dict[str, str] = {}
    files = sorted(directory.glob("*.y*ml"))
    if not files:
        return [
            ScenarioIssue(
                file=str(directory), line=None, field="(directory)", problem="no scenario files"
            )
        ]
    for path in files:
        loaded, found = parse(path.read_text(encoding="utf-8"), file=str(path))
        issues += found
        if loaded is not None:
            scenario_id = loaded.scenario.id
            if scenario_id in owners:
                issues.append(
                    ScenarioIssue(
                        file=str(path),
                        line=1,
                        field="id",
                        problem=f"id {scenario_id!r} also in {owners[scenario_id]}",
                    )
                )
            owners[scenario_id] = str(path)
    return issues


def load_library(directory: Path = SCENARIO_DIR) -> dict[str, LoadedScenario]:
    """All scenarios of `directory` by id; any invalid file stops loading with every issue.

    Parsed once per version of the files (name, size, mtime): beat ticks every few seconds
    and each tick looks scenarios up, while the library changes only when someone edits it.
    """
    files = sorted(directory.glob("*.y*ml"))
    signature = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return dict(_load_library(directory, signature))


@functools.lru_cache(maxsize=8)
def _load_library(
    directory: Path, signature: tuple[tuple[str, int, int], ...]
) -> dict[str, LoadedScenario]:
    issues = check_directory(directory)
    if issues:
        raise ScenarioError(issues)
    loaded = [load_file(path) for path in sorted(directory.glob("*.y*ml"))]
    return {item.scenario.id: item for item in loaded}


def get_scenario(scenario_id: str, *, directory: Path = SCENARIO_DIR) -> LoadedScenario:
    """One scenario of the library by id; NotFoundError names the ids that exist."""
    from core.errors import NotFoundError

    library = load_library(directory)
    if scenario_id not in library:
        raise NotFoundError(
            f"scenario {scenario_id!r} not found; known: {', '.join(sorted(library))}"
        )
    return library[scenario_id]
