"""Every public function of the breach package is reachable from a route, a command or a task.

A service nobody can call is not a feature: this lists `playbooks.breach.service.__all__` and
looks for each name in the boundary modules (dashboard views, `dijkwacht` commands, the breach
Celery tasks), as an import from `playbooks.breach` or as `<breach module alias>.<name>`.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from playbooks.breach import service
from tests.conftest import REPO_ROOT

BOUNDARIES = (
    *sorted((REPO_ROOT / "dashboard" / "views").glob("*.py")),
    *sorted((REPO_ROOT / "dijkwacht" / "commands").glob("*.py")),
    REPO_ROOT / "playbooks" / "breach" / "tasks.py",
)


def _reached(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases: set[str] = set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("playbooks.breach"):
            for alias in node.names:
                names.add(alias.name)
                if node.module == "playbooks.breach":  # `from playbooks.breach import x as y`
                    aliases.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        is_attr = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if is_attr and node.value.id in aliases:  # type: ignore[attr-defined]
            names.add(node.attr)  # type: ignore[attr-defined]
    return names


def test_every_breach_service_function_is_reachable() -> None:
    public = [n for n in service.__all__ if inspect.isfunction(getattr(service, n))]
    assert len(public) > 20
    reached: set[str] = set()
    for path in BOUNDARIES:
        reached |= _reached(path)
    unreachable = sorted(set(public) - reached)
    assert not unreachable, f"breach functions no route, command or task calls: {unreachable}"
