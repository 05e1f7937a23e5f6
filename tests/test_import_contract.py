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


# What the composition roots (`dashboard/`, `dijkwacht/`) may import from a domain: its service
# facade, its public types (models, errors, schemas) and its Celery entry points (tasks).
# `playbooks.breach` is a context of its own: `playbooks.breach.service` and so on.
ROOT_MAY_IMPORT = frozenset({"service", "models", "errors", "schemas", "tasks"})

# Imports of domain internals by the roots that predate the rule (#22), as (module, imported
# module). A new one fails; an entry that no longer occurs fails too, so the list only shrinks.
# Remove one by importing through the domain's service (re-export the name there).
ROOT_INTERNAL_IMPORTS: frozenset[tuple[str, str]] = frozenset({
    ("dashboard/services/alerts.py", "detection.attack"),
    ("dashboard/services/alerts.py", "detection.attack_data"),
    ("dashboard/services/coverage.py", "detection.attack"),
    ("dashboard/services/coverage.py", "detection.attack_data"),
    ("dashboard/services/dpo.py", "playbooks.breach.ap_notification"),
    ("dashboard/services/dpo.py", "playbooks.breach.clocks"),
    ("dashboard/services/dpo.py", "playbooks.breach.nis2"),
    ("dashboard/services/dpo_words.py", "playbooks.breach.clocks"),
    ("dashboard/services/ops.py", "collectors.metrics"),
    ("dashboard/services/ops.py", "collectors.spool"),
    ("dashboard/views/ingest.py", "collectors.http_ingest"),
    ("dashboard/views/intel.py", "intel.feeds"),
    ("dashboard/views/intel.py", "intel.flows"),
    ("dashboard/views/metrics.py", "collectors.metrics"),
    ("dashboard/views/metrics.py", "collectors.spool"),
    ("dijkwacht/cli.py", "collectors.health"),
    ("dijkwacht/commands/attack.py", "detection.attack"),
    ("dijkwacht/commands/attack.py", "detection.attack_data"),
    ("dijkwacht/commands/breach.py", "playbooks.breach.clocks"),
    ("dijkwacht/commands/breach.py", "playbooks.breach.export"),
    ("dijkwacht/commands/breach.py", "playbooks.breach.processing_register"),
    ("dijkwacht/commands/breach.py", "playbooks.breach.register"),
    ("dijkwacht/commands/breach_work.py", "playbooks.breach.clocks"),
    ("dijkwacht/commands/collect.py", "collectors.deadletters"),
    ("dijkwacht/commands/collect.py", "collectors.health"),
    ("dijkwacht/commands/collect.py", "collectors.http_ingest"),
    ("dijkwacht/commands/collect.py", "collectors.metrics"),
    ("dijkwacht/commands/collect.py", "collectors.parsers"),
    ("dijkwacht/commands/collect.py", "collectors.runtime"),
    ("dijkwacht/commands/collect.py", "collectors.spool"),
    ("dijkwacht/commands/common.py", "detection.scheduled"),
    ("dijkwacht/commands/hunt.py", "collectors.evtx"),
    ("dijkwacht/commands/ingest_formats.py", "collectors.evtx"),
    ("dijkwacht/commands/ingest_formats.py", "collectors.packets"),
    ("dijkwacht/commands/ingest_formats.py", "collectors.parsers"),
    ("dijkwacht/commands/ingest_formats.py", "collectors.parsers.app_audit"),
    ("dijkwacht/commands/ingest_formats.py", "collectors.parsers.auth_messages"),
    ("dijkwacht/commands/intel.py", "intel.flows"),
    ("dijkwacht/commands/up.py", "collectors.consumer"),
    ("dijkwacht/commands/up.py", "collectors.spool"),
    ("dijkwacht/commands/up.py", "playbooks.breach.processing_register"),
    ("dijkwacht/demo_world/evaluate.py", "detection.rulepack"),
    ("dijkwacht/demo_world/evaluate.py", "detection.stream"),
    ("dijkwacht/demo_world/ingest.py", "collectors.context"),
    ("dijkwacht/demo_world/ingest.py", "collectors.enrichment"),
    ("dijkwacht/demo_world/ingest.py", "collectors.parsers"),
    ("dijkwacht/detection_runtime.py", "detection.correlation_store"),
    ("dijkwacht/detection_runtime.py", "detection.loader"),
    ("dijkwacht/detection_runtime.py", "detection.management"),
    ("dijkwacht/detection_runtime.py", "detection.scheduled"),
    ("dijkwacht/detection_runtime.py", "detection.stream"),
    ("dijkwacht/detection_runtime.py", "intel.stream"),
})  # fmt: skip


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


def _root_imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every domain module `path` imports; `from detection import
    management` names the module `detection.management`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module in (*DOMAINS, "playbooks.breach"):
                for alias in node.names:
                    yield node.lineno, f"{node.module}.{alias.name}"
            else:
                yield node.lineno, node.module


def root_internal_imports(root: str) -> set[tuple[str, str]]:
    """(module, imported module) of every import by `root` of a domain's internals."""
    found = set()
    for path in sorted((REPO_ROOT / root).rglob("*.py")):
        for _, module in _root_imports(path):
            parts = module.split(".")
            if parts[0] not in DOMAINS:
                continue
            inner = parts[2:3] if parts[:2] == ["playbooks", "breach"] else parts[1:2]
            if not inner or inner[0] not in ROOT_MAY_IMPORT:
                found.add((str(path.relative_to(REPO_ROOT)), module))
    return found


def test_roots_reach_domains_through_their_services() -> None:
    found: set[tuple[str, str]] = set()
    for root in ROOTS:
        found |= root_internal_imports(root)
    new = sorted(found - ROOT_INTERNAL_IMPORTS)
    assert not new, f"import these through the domain's service (re-export there): {new}"
    gone = sorted(ROOT_INTERNAL_IMPORTS - found)
    assert not gone, f"no longer imported, remove from ROOT_INTERNAL_IMPORTS: {gone}"


def test_the_root_check_catches_an_internal_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dashboard").mkdir()
    (tmp_path / "dashboard" / "v.py").write_text(
        "from detection import management, service\n"
        "from detection.models import Rule\n"
        "from playbooks.breach import clocks\n"
        "from playbooks.breach.service import open_breach\n"
        "import collectors.spool\n"
        "from drills.tasks import tick\n"
    )
    monkeypatch.setattr(f"{__name__}.REPO_ROOT", tmp_path)
    assert root_internal_imports("dashboard") == {
        ("dashboard/v.py", "detection.management"),
        ("dashboard/v.py", "playbooks.breach.clocks"),
        ("dashboard/v.py", "collectors.spool"),
    }
