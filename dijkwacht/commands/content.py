"""`dijkwacht content check PATH...`: check any authored content file, whatever its kind.

Each file's kind (Sigma rule, playbook, drill scenario, awareness topic, audiences, labels,
breach report form) is told by its folder (``rules/``, ``playbooks/library/``,
``drills/scenarios/``, ``awareness/topics/``, ``playbooks/breach/forms/``) or else by its
top-level keys, then it is checked by its own domain's
loader; every problem is printed as ``file:line: field: message``. The exit code is 1 when any
error was found, 0 otherwise (warnings alone do not fail), 2 when a path does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from core.content import Issue, load_yaml
from dijkwacht.commands.common import console

app = typer.Typer(
    help="Authored content: rules, playbooks, scenarios, topics, report forms.",
    no_args_is_help=True,
)

SUFFIXES = (".yml", ".yaml")


class Kind(StrEnum):
    RULE = "rule"
    PLAYBOOK = "playbook"
    SCENARIO = "scenario"
    TOPIC = "topic"
    AUDIENCES = "audiences"
    LABELS = "labels"
    FORM = "form"


# Top-level keys that only one kind of content has; checked in this order.
_KEYS: tuple[tuple[Kind, frozenset[str]], ...] = (
    (Kind.RULE, frozenset({"detection", "correlation", "logsource", "filter"})),
    (Kind.SCENARIO, frozenset({"msel", "expectations"})),
    (Kind.PLAYBOOK, frozenset({"steps", "trigger"})),
    (Kind.TOPIC, frozenset({"tips", "quiz", "facts", "if_wrong"})),
    (Kind.LABELS, frozenset({"labels"})),
    (Kind.FORM, frozenset({"form"})),
)


def kind_of(path: Path) -> Kind | None:
    """The kind of a content file from its folder, else from its keys; None if unknown."""
    parts = [part.lower() for part in path.resolve().parts[:-1]]
    if path.name == "audiences.yml":
        return Kind.AUDIENCES
    if path.name == "labels.yml" and "awareness" in parts:
        return Kind.LABELS
    if parts[-2:] == ["breach", "forms"]:
        return Kind.FORM
    for folder, kind in (
        ("rules", Kind.RULE),
        ("scenarios", Kind.SCENARIO),
        ("topics", Kind.TOPIC),
    ):
        if folder in parts:
            return kind
    if "playbooks" in parts and "library" in parts:
        return Kind.PLAYBOOK
    content = load_yaml(path, source=str(path), multiple=True, duplicate_keys=None)
    keys = {str(k) for doc in content.documents if isinstance(doc.data, dict) for k in doc.data}
    if content.issues and not keys:
        return Kind.RULE if path.suffix in SUFFIXES else None  # broken YAML: reported below
    return next((kind for kind, marks in _KEYS if keys & marks), None)


def content_files(paths: Iterable[Path]) -> list[Path]:
    """Every *.yml / *.yaml file under the given files or folders, sorted."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        else:
            found.add(path)
    return sorted(found)


def check_files(files: Sequence[Path], *, kind: Kind | None = None) -> list[Issue]:
    """Every issue of every file, each checked by its kind's own loader.

    Rule files are checked together: a correlation may name rules in another file.
    """
    issues: list[Issue] = []
    rules: list[Path] = []
    for path in files:
        found = kind or kind_of(path)
        if found is None:
            message = "unknown kind of content (not a rule, playbook, scenario, topic or form)"
            issues.append(Issue(str(path), None, "(file)", message))
        elif found is Kind.RULE:
            rules.append(path)
        else:
            issues += _check_one(found, path)
    if rules:
        from detection.service import check_rules

        issues += check_rules(paths=rules)
    return issues


def _check_one(kind: Kind, path: Path) -> list[Issue]:
    if kind is Kind.PLAYBOOK:
        from playbooks.service import PlaybookError, load_file

        try:
            load_file(path)
        except PlaybookError as exc:
            return exc.issues
        return []
    if kind is Kind.FORM:
        from playbooks.breach.service import check_form_file

        return check_form_file(path)
    if kind is Kind.SCENARIO:
        from drills.service import ScenarioError
        from drills.service import load_file as load_scenario

        try:
            load_scenario(path)
        except ScenarioError as exc:
            return exc.issues
        return []
    from awareness.schemas import Labels, Topic
    from awareness.service import check_audiences, check_file

    if kind is Kind.AUDIENCES:
        return check_audiences(path)[1]
    return check_file(Labels if kind is Kind.LABELS else Topic, path)[1]


@app.command("check")
def check(
    paths: Annotated[list[Path], typer.Argument(help="Content files or folders.")],
    kind: Annotated[
        Kind | None, typer.Option("--kind", "-k", help="Check every file as this kind.")
    ] = None,
) -> None:
    """Check content files of any kind; print every problem; exit 1 if any error."""
    missing = [path for path in paths if not path.exists()]
    if missing:
        console.print(f"[red]not found: {', '.join(map(str, missing))}[/red]")
        raise typer.Exit(code=2)
    files = content_files(paths)
    issues = check_files(files, kind=kind)
    for issue in issues:
        typer.echo(str(issue))
    errors = sum(1 for issue in issues if issue.is_error)
    typer.echo(
        f"{len(files)} file(s) checked: {errors} error(s), {len(issues) - errors} warning(s)"
    )
    if errors:
        raise typer.Exit(code=1)
