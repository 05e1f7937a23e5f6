"""The dependency direction of ARCHITECTURE.md, enforced on every import statement (AST)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOMAINS = (
    "collectors", "detection", "intel", "playbooks", "drills", "awareness", "advisories",
    "compliance", "ldv",
)  # fmt: skip
ROOTS = ("dashboard", "dijkwacht")
FIRST_PARTY = ("core", *DOMAINS, *ROOTS)

# Which other domains a domain may call, always through their `service` modules.
ALLOWED_DOMAIN_CALLS: dict[str, frozenset[str]] = {
    "collectors": frozenset(),
    "detection": frozenset(),
    "intel": frozenset({"detection", "collectors", "playbooks"}),
    "playbooks": frozenset({"detection"}),
    "drills": frozenset({"detection", "playbooks", "collectors"}),
    "awareness": frozenset({"detection", "playbooks", "drills"}),
    "advisories": frozenset({"playbooks", "collectors"}),
    "compliance": frozenset({"collectors", "detection", "playbooks", "drills", "awareness"}),
    "ldv": frozenset({"collectors", "playbooks"}),
}


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:  # `from detection import service` names the module
                yield node.lineno, f"{node.module}.{alias.name}"


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((REPO_ROOT / package).rglob("*.py")):
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top not in FIRST_PARTY or top == package:
                continue
            where = f"{path.relative_to(REPO_ROOT)}:{line} imports {module}"
            if package == "core":
                found.append(f"{where}: core imports no domain")
            elif top in ROOTS:
                found.append(f"{where}: a domain never imports the composition roots")
            elif top in DOMAINS:
                parts = module.split(".")
                if top not in ALLOWED_DOMAIN_CALLS[package]:
                    found.append(f"{where}: {package} may not depend on {top}")
                elif len(parts) > 1 and parts[1] not in ("service",):
                    found.append(f"{where}: other domains are reached through {top}.service")
    return found


@pytest.mark.parametrize("package", ["core", *DOMAINS])
def test_dependency_direction(package: str) -> None:
    assert violations(package) == []


def test_the_check_catches_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_root = tmp_path
    (fake_root / "core").mkdir()
    (fake_root / "core" / "bad.py").write_text("def f():\n    from detection import models\n")
    (fake_root / "playbooks").mkdir()
    (fake_root / "playbooks" / "x.py").write_text(
        "from detection.models import Rule\nfrom detection import service\nimport dashboard\n"
    )
    monkeypatch.setattr(f"{__name__}.REPO_ROOT", fake_root)
    assert len(violations("core")) == 2  # `detection` and `detection.models`
    found = violations("playbooks")
    assert any("detection.models" in v and "through detection.service" in v for v in found)
    assert any("composition roots" in v for v in found)
    assert not any("imports detection.service" in v for v in found)
