"""The scenario library: YAML files loaded into `Scenario`, every error with file, line, field.

YAML goes through ``core.content.load_yaml`` (size, depth and alias limits; the line of every
data path, `msel[3].to[0]` → line 41) and pydantic through ``core.content.validate_model``.
Cross-field rules are small validator classes (`VALIDATORS`), one rule each, that yield
problems at a data path.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from core.content import (
    DataPath,
    Issue,
    Validator,
    YamlContent,
    has_errors,
    load_yaml,
    validate_model,
)
from core.errors import DijkwachtError, NotFoundError
from drills.schemas import LoadedScenario, Scenario

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"


class ScenarioError(DijkwachtError):
    """One or more scenario files are invalid; `issues` says where and why."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = list(issues)


# -- cross-field validators, one rule each -----------------------------------------------------


class UniqueIds(Validator[Scenario]):
    """Objectives, injects, expectations and criteria have unique ids."""

    name = "unique-ids"

    def check(self, scenario: Scenario) -> Iterable[tuple[DataPath, str]]:
        for section in ("objectives", "msel", "expectations", "criteria"):
            seen: set[str] = set()
            for index, item in enumerate(getattr(scenario, section)):
                if item.id in seen:
                    yield (section, index, "id"), f"duplicate id {item.id!r}"
                seen.add(item.id)


class RolesDeclared(Validator[Scenario]):
    """Injects and expectations address only declared roles."""

    name = "roles-declared"

    def check(self, scenario: Scenario) -> Iterable[tuple[DataPath, str]]:
        declared = set(scenario.roles)
        for index, inject in enumerate(scenario.msel):
            for position, role in enumerate(inject.to):
                if role not in declared:
                    yield ("msel", index, "to", position), f"role {role!r} is not in roles"
        for index, expectation in enumerate(scenario.expectations):
            if expectation.role not in declared:
                yield ("expectations", index, "role"), f"role {expectation.role!r} is not in roles"


class ObjectiveRefs(Validator[Scenario]):
    """Injects and expectations refer only to declared objectives."""

    name = "objective-refs"

    def check(self, scenario: Scenario) -> Iterable[tuple[DataPath, str]]:
        known = {objective.id for objective in scenario.objectives}
        for section in ("msel", "expectations"):
            for index, item in enumerate(getattr(scenario, section)):
                for position, ref in enumerate(item.objectives):
                    if ref not in known:
                        yield (section, index, "objectives", position), f"unknown objective {ref!r}"


class MselOrder(Validator[Scenario]):
    """Injects are in time order."""

    name = "msel-order"

    def check(self, scenario: Scenario) -> Iterable[tuple[DataPath, str]]:
        for index in range(1, len(scenario.msel)):
            if scenario.msel[index].at_minute < scenario.msel[index - 1].at_minute:
                yield ("msel", index, "at_minute"), "injects must be in time order"


class TechnicalComplete(Validator[Scenario]):
    """A technical scenario has injects with events, and expectations name what they wait for."""

    name = "technical-complete"

    def check(self, scenario: Scenario) -> Iterable[tuple[DataPath, str]]:
        has_events = any(inject.events is not None for inject in scenario.msel)
        if "technical" in scenario.modes and not has_events:
            yield ("modes",), "a technical scenario needs at least one inject with events"
        for index, expectation in enumerate(scenario.expectations):
            if expectation.kind == "detection" and not expectation.rule_id:
                yield ("expectations", index, "rule_id"), "a detection expectation names its rule"
            if expectation.kind == "playbook_step" and not expectation.step:
                yield ("expectations", index, "step"), "a playbook_step expectation names its step"


class GripRises(Validator[Scenario]):
    """GRIP levels only go up during a scenario."""

    name = "grip-rises"

    def check(self, scenario: Scenario) -> Iterable[tuple[DataPath, str]]:
        for index in range(1, len(scenario.grip)):
            if scenario.grip[index].level <= scenario.grip[index - 1].level:
                yield ("grip", index, "level"), "GRIP levels only go up during a scenario"


class CriteriaMeasured(Validator[Scenario]):
    """Every criterion scores a metric some expectation measures."""

    name = "criteria-measured"

    def check(self, scenario: Scenario) -> Iterable[tuple[DataPath, str]]:
        measured = {e.metric for e in scenario.expectations if e.metric}
        for index, criterion in enumerate(scenario.criteria):
            if criterion.metric not in measured:
                yield (
                    ("criteria", index, "metric"),
                    f"no expectation measures {criterion.metric!r}, so it can never be scored",
                )


VALIDATORS: tuple[Validator[Scenario], ...] = (
    UniqueIds(),
    RolesDeclared(),
    ObjectiveRefs(),
    MselOrder(),
    TechnicalComplete(),
    GripRises(),
    CriteriaMeasured(),
)


def parse(text: str, *, file: str) -> tuple[LoadedScenario | None, list[Issue]]:
    """Validate one scenario text; return it (or None) and every issue found."""
    return _validate(load_yaml(text, source=file), file)


def _validate(content: YamlContent, file: str) -> tuple[LoadedScenario | None, list[Issue]]:
    document = content.document
    if document is None:
        return None, list(content.issues) or [Issue(file, 1, "(document)", "must be a mapping")]
    scenario, issues = validate_model(Scenario, document, source=file, validators=VALIDATORS)
    issues = [*content.issues, *issues]
    if scenario is None or has_errors(issues):
        return None, issues
    digest = hashlib.sha256(content.text.encode("utf-8")).hexdigest()
    return LoadedScenario(scenario=scenario, path=file, sha256=digest), issues


def load_file(path: Path) -> LoadedScenario:
    """One valid scenario from `path`; ScenarioError with every issue otherwise."""
    loaded, issues = _validate(load_yaml(path, source=str(path)), str(path))
    if loaded is None:
        raise ScenarioError(issues)
    return loaded


def check_directory(directory: Path) -> list[Issue]:
    """Every issue of every scenario file in `directory`, plus ids used twice."""
    issues: list[Issue] = []
    owners: dict[str, str] = {}
    files = sorted(directory.glob("*.y*ml"))
    if not files:
        return [Issue(str(directory), None, "(directory)", "no scenario files")]
    for path in files:
        loaded, found = _validate(load_yaml(path, source=str(path)), str(path))
        issues += found
        if loaded is not None:
            scenario_id = loaded.scenario.id
            if scenario_id in owners:
                message = f"id {scenario_id!r} also in {owners[scenario_id]}"
                issues.append(Issue(str(path), 1, "id", message))
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
    library = load_library(directory)
    if scenario_id not in library:
        raise NotFoundError(
            f"scenario {scenario_id!r} not found; known: {', '.join(sorted(library))}"
        )
    return library[scenario_id]
