"""`dijkwacht content check`: any kind of authored file, located problems, exit code."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from dijkwacht.cli import app
from dijkwacht.commands.content import Kind, kind_of

REPO = Path(__file__).resolve().parents[2]
SHIPPED = [
    REPO / "detection" / "rules",
    REPO / "playbooks" / "library",
    REPO / "drills" / "scenarios",
    REPO / "awareness" / "topics",
    REPO / "awareness" / "audiences.yml",
    REPO / "awareness" / "labels.yml",
    REPO / "playbooks" / "breach" / "forms",
]


def _check(*paths: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, ["content", "check", *map(str, paths)])
    return result.exit_code, result.stdout.splitlines()


def test_the_shipped_content_is_clean() -> None:
    code, lines = _check(*SHIPPED)
    assert code == 0, lines
    assert lines[-1].endswith("0 error(s), 0 warning(s)")


def test_kind_comes_from_the_folder_or_else_from_the_keys(tmp_path: Path) -> None:
    assert kind_of(REPO / "playbooks" / "library" / "ransomware.yml") is Kind.PLAYBOOK
    assert kind_of(REPO / "drills" / "scenarios" / "phishinggolf.yml") is Kind.SCENARIO
    assert kind_of(REPO / "awareness" / "topics" / "help.yml") is Kind.TOPIC
    loose = tmp_path / "loose"
    loose.mkdir()
    for source in (
        REPO / "playbooks" / "library" / "ransomware.yml",
        REPO / "drills" / "scenarios" / "phishinggolf.yml",
        REPO / "awareness" / "topics" / "help.yml",
    ):
        shutil.copy(source, loose / source.name)
    assert [kind_of(p) for p in sorted(loose.iterdir())] == [
        Kind.TOPIC,
        Kind.SCENARIO,
        Kind.PLAYBOOK,
    ]
    assert kind_of(REPO / "playbooks" / "breach" / "forms" / "nis2_final.yml") is Kind.FORM
    shutil.copy(REPO / "playbooks" / "breach" / "forms" / "nis2_final.yml", loose / "form.yml")
    assert kind_of(loose / "form.yml") is Kind.FORM
    (loose / "other.yml").write_text("colour: red\n", encoding="utf-8")
    assert kind_of(loose / "other.yml") is None


def test_every_problem_of_every_kind_is_listed_with_its_line(tmp_path: Path) -> None:
    playbook = (REPO / "playbooks" / "library" / "ransomware.yml").read_text(encoding="utf-8")
    scenario = (REPO / "drills" / "scenarios" / "phishinggolf.yml").read_text(encoding="utf-8")
    topic = (REPO / "awareness" / "topics" / "help.yml").read_text(encoding="utf-8")
    files = {
        "playbook.yml": playbook.replace("version: ", "version: x", 1),
        "scenario.yml": scenario.replace("\nid: ", "\nid: BAD ID ", 1),
        "topic.yml": topic.replace("order: 11", "order: elf"),
        "rule.yml": "title: t\nid: 1\nlogsource: {product: x}\n"
        "detection: {sel: {a: b}, condition: sel}\n",
        "laughs.yml": "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n"
            for p, c in zip("abcdef", "bcdefg", strict=True)
        ),
        "form.yml": "form: form\nsections:\n- name: a\n  fields:\n  - key: b\n    label: {nl: B}\n",
        "other.yml": "colour: red\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    code, lines = _check(tmp_path)
    assert code == 1
    shown = "\n".join(lines)
    for name, field in (
        ("playbook.yml", ": version: "),
        ("scenario.yml", ": id: "),
        ("topic.yml", ": order: "),
        ("rule.yml", ":2: id: must be text"),
        ("laughs.yml", ": (yaml): "),
        ("form.yml", ":6: sections[0].fields[0].label.en: required field is missing"),
        ("other.yml", ": (file): unknown kind"),
    ):
        assert any(line.startswith(str(tmp_path / name)) and field in line for line in lines), (
            name,
            shown,
        )
    assert lines[-1] == "7 file(s) checked: 7 error(s), 0 warning(s)"


def test_a_missing_path_exits_2(tmp_path: Path) -> None:
    assert _check(tmp_path / "nope.yml")[0] == 2
