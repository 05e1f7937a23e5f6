"""Load playbook YAML files and report every problem with its file, line and field.

YAML goes through ``core.content.load_yaml`` (size, depth and alias limits; a line for every
data path) and pydantic through ``core.content.validate_model``, which maps each error to the
path and line the author wrote. Cross-field rules are small validator classes (`VALIDATORS`),
one rule each, in the spirit of pySigma's validators.
"""

from __future__ import annotations

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
from playbooks.actions import ACTIONS
from playbooks.schemas import (
    PARAM_REFERENCE,
    ActionStep,
    DecisionStep,
    HandoffStep,
    LoadedPlaybook,
    Playbook,
)

LIBRARY_DIR = Path(__file__).resolve().parent / "library"
Path_ = DataPath


class PlaybookError(Exception):
    """One or more playbook files are invalid; `issues` lists each problem."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = list(issues)


# --- cross-field validators: one rule each, yielding (path, problem) ---------------------------


class UniqueStepIds(Validator[Playbook]):
    """Step ids are unique: decisions and runs refer to steps by id."""

    name = "unique-step-ids"

    def check(self, playbook: Playbook) -> Iterable[tuple[Path_, str]]:
        seen: set[str] = set()
        for index, step in enumerate(playbook.steps):
            if step.id in seen:
                yield ("steps", index, "id"), f"step id {step.id!r} is used twice"
            seen.add(step.id)


class KnownActions(Validator[Playbook]):
    """Action steps name a known action with exactly its parameters and valid references."""

    name = "known-actions"

    def check(self, playbook: Playbook) -> Iterable[tuple[Path_, str]]:
        for index, step in enumerate(playbook.steps):
            if not isinstance(step, ActionStep):
                continue
            spec = ACTIONS.get(step.action)
            if spec is None:
                known = ", ".join(sorted(ACTIONS))
                yield ("steps", index, "action"), f"unknown action {step.action!r}; known: {known}"
                continue
            for name in spec.params:
                if name not in step.params:
                    yield (
                        ("steps", index, "params"),
                        f"action {step.action} needs parameter {name!r}",
                    )
            for name, value in step.params.items():
                if name not in spec.params:
                    yield ("steps", index, "params", name), f"{step.action} takes no {name!r}"
                reference = PARAM_REFERENCE.match(value)
                if value.startswith("$") and (
                    reference is None or reference.group(1) not in _KINDS
                ):
                    yield (
                        ("steps", index, "params", name),
                        f"{value!r} is not a reference; use $observable.<{'|'.join(_KINDS)}>",
                    )


class DecisionsGoForward(Validator[Playbook]):
    """A decision option leads to a later step: a run can never loop."""

    name = "decisions-go-forward"

    def check(self, playbook: Playbook) -> Iterable[tuple[Path_, str]]:
        positions = {step.id: index for index, step in enumerate(playbook.steps)}
        for index, step in enumerate(playbook.steps):
            if not isinstance(step, DecisionStep):
                continue
            for number, option in enumerate(step.options):
                if option.next is None:
                    continue
                where = ("steps", index, "options", number, "next")
                if option.next not in positions:
                    yield where, f"no step with id {option.next!r}"
                elif positions[option.next] <= index:
                    yield where, f"step {option.next!r} is not after this decision (no loops)"


class PersonalDataHandsOff(Validator[Playbook]):
    """A personal-data playbook hands off to the breach workflow (the DPO's deadlines)."""

    name = "personal-data-hands-off"

    def check(self, playbook: Playbook) -> Iterable[tuple[Path_, str]]:
        if playbook.trigger.personal_data and not any(
            isinstance(step, HandoffStep) for step in playbook.steps
        ):
            yield (
                ("trigger", "personal_data"),
                "a playbook for personal-data incidents needs a handoff step to the breach "
                "workflow",
            )


class TriggerSelects(Validator[Playbook]):
    """A trigger selects something: rule ids, tags or techniques."""

    name = "trigger-selects"

    def check(self, playbook: Playbook) -> Iterable[tuple[Path_, str]]:
        trigger = playbook.trigger
        if not (trigger.rule_ids or trigger.tags or trigger.techniques):
            yield ("trigger",), "give at least one of rule_ids, tags or techniques"


_KINDS = ("ip", "user", "host", "hash", "domain", "pseudonym")
VALIDATORS: tuple[Validator[Playbook], ...] = (
    UniqueStepIds(),
    KnownActions(),
    DecisionsGoForward(),
    PersonalDataHandsOff(),
    TriggerSelects(),
)


def validate_text(text: str, file: str) -> tuple[Playbook | None, list[Issue]]:
    """Parse and validate one playbook; the playbook is None when any error was found."""
    return _validate(load_yaml(text, source=file), file)


def _validate(content: YamlContent, file: str) -> tuple[Playbook | None, list[Issue]]:
    document = content.document
    if document is None:
        return None, list(content.issues) or [Issue(file, 1, "(document)", "the file is empty")]
    playbook, issues = validate_model(Playbook, document, source=file, validators=VALIDATORS)
    issues = [*content.issues, *issues]
    return (None if has_errors(issues) else playbook), issues


def load_file(path: Path) -> LoadedPlaybook:
    """One valid playbook file; raises PlaybookError listing every problem."""
    content = load_yaml(path, source=str(path))
    playbook, issues = _validate(content, str(path))
    if playbook is None:
        raise PlaybookError(issues)
    digest = hashlib.sha256(content.text.encode("utf-8")).hexdigest()  # the file's bytes
    return LoadedPlaybook(playbook, str(path), digest)


def check_directory(directory: Path) -> list[Issue]:
    """Every issue in every `*.yml`/`*.yaml` file of `directory`, plus duplicate playbook ids."""
    issues: list[Issue] = []
    ids: dict[str, str] = {}
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    if not files:
        return [Issue(str(directory), None, "(directory)", "no .yml or .yaml files")]
    for path in files:
        try:
            loaded = load_file(path)
        except PlaybookError as exc:
            issues.extend(exc.issues)
            continue
        other = ids.get(loaded.playbook.id)
        if other is not None:
            issues.append(Issue(str(path), 1, "id", f"id {loaded.playbook.id!r} also in {other}"))
        ids[loaded.playbook.id] = str(path)
    return issues


def load_library(directory: Path = LIBRARY_DIR) -> dict[str, LoadedPlaybook]:
    """All playbooks of a directory by id; any invalid file stops loading with every issue."""
    issues = check_directory(directory)
    if issues:
        raise PlaybookError(issues)
    loaded = [load_file(path) for path in sorted(directory.glob("*.y*ml"))]
    return {item.playbook.id: item for item in loaded}
