"""Load playbook YAML files and report every problem with its file, line and field.

PyYAML's composer keeps the position of every node; we build the data from those nodes and
keep a map from each data path (`steps[2].sla_minutes`) to its line. Pydantic's error
locations are walked through the data to find that path; a missing field is reported at the
line of the mapping that lacks it. Cross-field rules are small check functions (`CHECKS`),
one rule each, in the spirit of pySigma's validators.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pydantic
import yaml

from playbooks.actions import ACTIONS
from playbooks.schemas import (
    PARAM_REFERENCE,
    ActionStep,
    DecisionStep,
    HandoffStep,
    LoadedPlaybook,
    Playbook,
    PlaybookIssue,
)

LIBRARY_DIR = Path(__file__).resolve().parent / "library"
Path_ = tuple[str | int, ...]


class PlaybookError(Exception):
    """One or more playbook files are invalid; `issues` lists each problem."""

    def __init__(self, issues: Sequence[PlaybookIssue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = list(issues)


def _field_name(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(document)"


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], issues: list[str]) -> None:
    """Record the line of every path below `node`; note duplicate keys (YAML allows them)."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                issues.append(f"{key_node.start_mark.line + 1}\t{_field_name(child)}")
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines, issues)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _walk(item, (*path, index), lines, issues)


def _parse(text: str, file: str) -> tuple[Any, dict[Path_, int], list[PlaybookIssue]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}, [PlaybookIssue(file, 1, "(document)", "the file is empty")]
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = f"YAML syntax: {exc.problem or exc.context}"
        return None, {}, [PlaybookIssue(file, line, "(syntax)", problem)]
    except yaml.YAMLError as exc:
        return None, {}, [PlaybookIssue(file, 1, "(syntax)", f"YAML: {exc}")]
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    duplicates: list[str] = []
    _walk(node, (), lines, duplicates)
    issues = [
        PlaybookIssue(file, int(line), name, "duplicate key (the later value would win)")
        for line, name in (entry.split("\t") for entry in duplicates)
    ]
    return data, lines, issues


def _has(container: Any, part: str | int) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def _resolve(data: Any, loc: Iterable[str | int]) -> tuple[Path_, bool]:
    """The data path a pydantic location points at; union tags that are not keys are skipped.

    Returns the path and whether it exists in the data (False: a missing field).
    """
    path: list[str | int] = []
    current = data
    parts = list(loc)
    for index, part in enumerate(parts):
        if _has(current, part):
            current = current[part]
            path.append(part)
        elif index == len(parts) - 1:
            path.append(part)
            return tuple(path), False
        # else: a discriminator tag or model name in the location; not part of the data
    return tuple(path), True


def _line_of(lines: dict[Path_, int], path: Path_) -> int:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def _pydantic_issues(
    exc: pydantic.ValidationError, data: Any, lines: dict[Path_, int], file: str
) -> list[PlaybookIssue]:
    issues = []
    errors = exc.errors()
    for error in errors:
        if error["type"] == "too_short" and any(
            len(other["loc"]) > len(error["loc"])
            and other["loc"][: len(error["loc"])] == error["loc"]
            for other in errors
        ):
            continue  # pydantic counts only valid items: the real error is the item's own
        loc = tuple(error["loc"])
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, "type")  # the discriminator field is what is wrong
        path, exists = _resolve(data, loc)
        problem = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            problem = "required field is missing"
        elif error["type"] == "extra_forbidden":
            problem = "unknown field"
        elif error["type"] == "union_tag_invalid":
            problem = f"unknown step type; {problem}"
        line = _line_of(lines, path if exists else path[:-1])
        issues.append(PlaybookIssue(file, line, _field_name(path), problem))
    return issues


# --- cross-field checks: each takes the playbook, yields (path, problem) ----------------------

Check = Callable[[Playbook], Iterable[tuple[Path_, str]]]


def check_unique_step_ids(playbook: Playbook) -> Iterable[tuple[Path_, str]]:
    seen: set[str] = set()
    for index, step in enumerate(playbook.steps):
        if step.id in seen:
            yield ("steps", index, "id"), f"step id {step.id!r} is used twice"
        seen.add(step.id)


def check_known_actions(playbook: Playbook) -> Iterable[tuple[Path_, str]]:
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
                yield ("steps", index, "params"), f"action {step.action} needs parameter {name!r}"
        for name, value in step.params.items():
            if name not in spec.params:
                yield ("steps", index, "params", name), f"{step.action} takes no {name!r}"
            reference = PARAM_REFERENCE.match(value)
            if value.startswith("$") and (reference is None or reference.group(1) not in _KINDS):
                yield (
                    ("steps", index, "params", name),
                    f"{value!r} is not a reference; use $observable.<{'|'.join(_KINDS)}>",
                )


def check_decisions_go_forward(playbook: Playbook) -> Iterable[tuple[Path_, str]]:
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


def check_personal_data_hands_off(playbook: Playbook) -> Iterable[tuple[Path_, str]]:
    if playbook.trigger.personal_data and not any(
        isinstance(step, HandoffStep) for step in playbook.steps
    ):
        yield (
            ("trigger", "personal_data"),
            "a playbook for personal-data incidents needs a handoff step to the breach workflow",
        )


def check_trigger_selects(playbook: Playbook) -> Iterable[tuple[Path_, str]]:
    trigger = playbook.trigger
    if not (trigger.rule_ids or trigger.tags or trigger.techniques):
        yield ("trigger",), "give at least one of rule_ids, tags or techniques"


_KINDS = ("ip", "user", "host", "hash", "domain", "pseudonym")
CHECKS: tuple[Check, ...] = (
    check_unique_step_ids,
    check_known_actions,
    check_decisions_go_forward,
    check_personal_data_hands_off,
    check_trigger_selects,
)


def validate_text(text: str, file: str) -> tuple[Playbook | None, list[PlaybookIssue]]:
    """Parse and validate one playbook; the playbook is None when any issue was found."""
    data, lines, issues = _parse(text, file)
    if data is None and issues:
        return None, issues
    if not isinstance(data, dict):
        return None, [*issues, PlaybookIssue(file, 1, "(document)", "must be a mapping")]
    try:
        playbook = Playbook.model_validate(data)
    except pydantic.ValidationError as exc:
        return None, [*issues, *_pydantic_issues(exc, data, lines, file)]
    for check in CHECKS:
        for path, problem in check(playbook):
            issues.append(PlaybookIssue(file, _line_of(lines, path), _field_name(path), problem))
    return (None if issues else playbook), issues


def load_file(path: Path) -> LoadedPlaybook:
    """One valid playbook file; raises PlaybookError listing every problem."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlaybookError([PlaybookIssue(str(path), 1, "(file)", f"not UTF-8: {exc}")]) from None
    playbook, issues = validate_text(text, str(path))
    if playbook is None:
        raise PlaybookError(issues)
    return LoadedPlaybook(playbook, str(path), hashlib.sha256(raw).hexdigest())


def check_directory(directory: Path) -> list[PlaybookIssue]:
    """Every issue in every `*.yml`/`*.yaml` file of `directory`, plus duplicate playbook ids."""
    issues: list[PlaybookIssue] = []
    ids: dict[str, str] = {}
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    if not files:
        return [PlaybookIssue(str(directory), 0, "(directory)", "no .yml or .yaml files")]
    for path in files:
        try:
            loaded = load_file(path)
        except PlaybookError as exc:
            issues.extend(exc.issues)
            continue
        other = ids.get(loaded.playbook.id)
        if other is not None:
            issues.append(
                PlaybookIssue(str(path), 1, "id", f"id {loaded.playbook.id!r} also in {other}")
            )
        ids[loaded.playbook.id] = str(path)
    return issues


def load_library(directory: Path = LIBRARY_DIR) -> dict[str, LoadedPlaybook]:
    """All playbooks of a directory by id; any invalid file stops loading with every issue."""
    issues = check_directory(directory)
    if issues:
        raise PlaybookError(issues)
    loaded = [load_file(path) for path in sorted(directory.glob("*.y*ml"))]
    return {item.playbook.id: item for item in loaded}
