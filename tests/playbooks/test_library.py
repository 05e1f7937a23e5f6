"""Playbook YAML: the shipped library is valid; every error names the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from playbooks.library import LIBRARY_DIR, check_directory, load_library

SHIPPED = {
    "account-compromise",
    "brute-force-portal",
    "privacy-snooping",
    "ransomware",
    "ddos-portal",
    "phishing-wave",
    "lost-device",
}

GOOD = """\
id: sample
title: Sample playbook
version: 1
description: A sample.
trigger:
  rule_ids: [r1]
steps:
  - id: look
    type: task
    title: Look at it
    checklist: [Looked]
"""


def test_the_shipped_library_is_valid() -> None:
    assert check_directory(LIBRARY_DIR) == []
    library = load_library()
    assert set(library) == SHIPPED
    for item in library.values():
        assert all(step.sla_minutes or step.type != "task" for step in item.playbook.steps[:1])
    assert library["privacy-snooping"].playbook.trigger.personal_data is True


# (broken text, expected line, expected field, words in the problem)
BROKEN = [
    (GOOD.replace("version: 1", "version: zero"), 3, "version", "integer"),
    (GOOD.replace("    type: task\n", "    type: teleport\n"), 9, "steps[0].type", "unknown type"),
    (GOOD.replace("    checklist: [Looked]\n", ""), 8, "steps[0].checklist", "missing"),
    (
        GOOD.replace("  rule_ids: [r1]\n", "  rule_ids: [r1]\n  colour: red\n"),
        7,
        "trigger.colour",
        "unknown",
    ),
    (
        GOOD.replace("  rule_ids: [r1]\n", "  techniques: [T99]\n"),
        6,
        "trigger.techniques[0]",
        "pattern",
    ),
    (
        GOOD + "  - id: block\n    type: action\n    title: Block it\n    action: nuke_site\n",
        15,
        "steps[1].action",
        "unknown action",
    ),
    (
        GOOD + "  - id: look\n    type: task\n    title: Again\n    checklist: [x1]\n",
        12,
        "steps[1].id",
        "used twice",
    ),
    (
        GOOD.replace("title: Sample playbook\n", "title: Sample playbook\ntitle: Twice\n"),
        3,
        "title",
        "duplicate key",
    ),
    (GOOD.replace("steps:\n", "steps: [\n"), 8, "(yaml)", "YAML"),
    (
        GOOD.replace("  rule_ids: [r1]\n", "  rule_ids: [r1]\n  personal_data: true\n"),
        7,
        "trigger.personal_data",
        "handoff",
    ),
    (
        GOOD
        + "  - id: pick\n    type: decision\n    title: Pick one\n    question: Which?\n"
        + "    options:\n      - {id: a, label: First, next: look}\n"
        + "      - {id: b, label: Second}\n",
        17,
        "steps[1].options[0].next",
        "not after",
    ),
]


@pytest.mark.parametrize(("text", "line", "field", "words"), BROKEN)
def test_every_error_names_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, words: str
) -> None:
    (tmp_path / "broken.yml").write_text(text, encoding="utf-8")
    issues = check_directory(tmp_path)
    assert issues, "expected a validation error"
    shown = [str(issue) for issue in issues]
    assert any(
        issue.source.endswith("broken.yml")
        and issue.line == line
        and issue.field == field
        and words.lower() in issue.message.lower()
        for issue in issues
    ), shown
    assert all(s.startswith(str(tmp_path / "broken.yml") + ":") for s in shown)


def test_several_errors_in_one_file_are_all_reported(tmp_path: Path) -> None:
    text = GOOD.replace("version: 1", "version: -1").replace("title: Look at it", "title: x")
    (tmp_path / "two.yml").write_text(text, encoding="utf-8")
    found = {(issue.line, issue.field) for issue in check_directory(tmp_path)}
    assert found == {(3, "version"), (10, "steps[0].title")}


def test_duplicate_playbook_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(GOOD)
    (tmp_path / "b.yml").write_text(GOOD)
    (issue,) = check_directory(tmp_path)
    assert issue.source.endswith("b.yml") and issue.field == "id" and "a.yml" in issue.message
