"""The dependency direction of ARCHITECTURE.md, enforced on every import statement (AST)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOMAINS = (
    "collectors", "detection", "intel", "playbooks", "drills", "awareness", "advisories",
    "compliance", "ldv", "demo_world",
)  # fmt: skip
ROOTS = ("dashboard", "dijkwacht")
FIRST_PARTY = ("core", *DOMAINS, *ROOTS)

# Which other domains a domain may call, always through their `service` modules.
ALLOWED_DOMAIN_CALLS: dict[str, frozenset[str]] = {
    "collectors": frozenset(),
    "detection": frozenset(),
    "intel": frozenset({"detection", "collectors", "playbooks"}),
    "playbooks": frozenset({"detection"}),
    "drills": frozenset({"detection", "playbooks", "collectors", "demo_world"}),
    "awareness": frozenset({"detection", "playbooks", "drills"}),
    "advisories": frozenset({"playbooks", "collectors"}),
    "compliance": frozenset({"collectors", "detection", "playbooks", "drills", "awareness"}),
    "ldv": frozenset({"collectors", "playbooks"}),
    # The simulated municipality reads its files through the real collectors and scores the
    # rule pack; drills build their synthetic events with it.
    "demo_world": frozenset({"collectors", "detection"}),
}

# Bounded contexts inside a domain, each with its own service facade. Other domains and the
# roots may call `playbooks.breach.service` as well as `playbooks.service`; inside `playbooks/`
# the rest of the domain and the context meet only at each other's facades.
CONTEXTS: dict[str, tuple[str, ...]] = {"playbooks": ("playbooks.breach",)}


def _at_the_door(module: str, door: str) -> bool:
    """Whether `module` is the package `door` itself or its service facade (or a name in it)."""
    return module in (door, f"{door}.service") or module.startswith(f"{door}.service.")


def through_a_service(module: str) -> bool:
    """Whether an import of another domain's `module` goes through a service facade."""
    top = module.split(".")[0]
    return any(_at_the_door(module, door) for door in (top, *CONTEXTS.get(top, ())))


# What the composition roots (`dashboard/`, `dijkwacht/`) may import from a domain: its service
# facade, its public types (models, errors, schemas) and its Celery entry points (tasks).
# `playbooks.breach` is a context of its own: `playbooks.breach.service` and so on.
ROOT_MAY_IMPORT = frozenset({"service", "models", "errors", "schemas", "tasks"})

# Imports of domain internals by the roots that predate the rule (#22), as (module, imported
# module). A new one fails; an entry that no longer occurs fails too, so the list only shrinks.
# Remove one by importing through the domain's service (re-export the name there).
ROOT_INTERNAL_IMPORTS: frozenset[tuple[str, str]] = frozenset({
    ("dashboard/views/intel.py", "intel.feeds"),
    ("dashboard/views/intel.py", "intel.flows"),
    ("dijkwacht/cli.py", "collectors.health"),
    ("dijkwacht/commands/collect.py", "collectors.runtime"),
    ("dijkwacht/commands/detect.py", "collectors.evtx"),
    ("dijkwacht/commands/ingest/readers.py", "collectors.evtx"),
    ("dijkwacht/commands/ingest/readers.py", "collectors.packets"),
    ("dijkwacht/commands/intel.py", "intel.flows"),
    ("dijkwacht/commands/up.py", "collectors.consumer"),
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
                if top not in ALLOWED_DOMAIN_CALLS[package]:
                    found.append(f"{where}: {package} may not depend on {top}")
                elif not through_a_service(module):
                    doors = ", ".join(f"{door}.service" for door in (top, *CONTEXTS.get(top, ())))
                    found.append(f"{where}: other domains are reached through {doors}")
    return found


@pytest.mark.parametrize("package", ["core", *DOMAINS])
def test_dependency_direction(package: str) -> None:
    assert violations(package) == []


def context_violations(domain: str, context: str) -> list[str]:
    """Imports across a bounded context's edge inside its domain: the rest of the domain reaches
    the context only through `<context>.service`, the context the rest only through
    `<domain>.service` (its models and internals stay its own)."""
    found = []
    folder = REPO_ROOT / context.replace(".", "/")
    for path in sorted((REPO_ROOT / domain).rglob("*.py")):
        inside = folder in path.parents
        for line, module in _imports(path):
            if module.split(".")[0] != domain:
                continue
            to_context = module == context or module.startswith(f"{context}.")
            where = f"{path.relative_to(REPO_ROOT)}:{line} imports {module}"
            if inside and not to_context and not _at_the_door(module, domain):
                found.append(
                    f"{where}: {context} reaches the rest of {domain} via {domain}.service"
                )
            elif not inside and to_context and not _at_the_door(module, context):
                found.append(f"{where}: the rest of {domain} reaches {context} via its service")
    return found


@pytest.mark.parametrize(("domain", "context"), [(d, c) for d, cs in CONTEXTS.items() for c in cs])
def test_a_context_meets_the_rest_of_its_domain_at_the_facades(domain: str, context: str) -> None:
    assert context_violations(domain, context) == []


def test_the_context_check_catches_a_crossing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "playbooks" / "breach").mkdir(parents=True)
    (tmp_path / "playbooks" / "service.py").write_text(
        "from playbooks.breach import service\nfrom playbooks.breach.models import Breach\n"
    )
    (tmp_path / "playbooks" / "breach" / "letters.py").write_text(
        "from playbooks import service\nfrom playbooks.notify import send_mail\n"
        "from playbooks.breach.models import Breach\n"
    )
    (tmp_path / "drills").mkdir()
    (tmp_path / "drills" / "rollback.py").write_text(
        "from playbooks.breach import service\nfrom playbooks.breach.service import x\n"
        "from playbooks.breach import clocks\n"
    )
    monkeypatch.setattr(f"{__name__}.REPO_ROOT", tmp_path)
    found = context_violations("playbooks", "playbooks.breach")
    assert [v.split(": ")[0] for v in found] == [
        "playbooks/breach/letters.py:2 imports playbooks.notify",
        "playbooks/breach/letters.py:2 imports playbooks.notify.send_mail",
        "playbooks/service.py:2 imports playbooks.breach.models",
        "playbooks/service.py:2 imports playbooks.breach.models.Breach",
    ]
    assert [v.split(": ")[0] for v in violations("drills")] == [
        "drills/rollback.py:3 imports playbooks.breach.clocks"
    ]


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


# "module", "module.attr" or "module:attr": the forms Celery `include`, hooks and
# importlib take.
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?::[A-Za-z_]\w*)?")


def _task_names(root: Path) -> set[str]:
    """Every Celery task name a domain or root declares (`shared_task(name="...")`)."""
    names = set()
    for package in (*DOMAINS, *ROOTS):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "shared_task":
                    for keyword in node.keywords:
                        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                            names.add(str(keyword.value.value))
    return names


def _names_a_module(root: Path, dotted: str) -> bool:
    """True when `dotted` (before any `:attr`) is a module or package of the repository."""
    parts = dotted.partition(":")[0].split(".")
    return any(
        (root.joinpath(*parts[:n]).with_suffix(".py")).is_file()
        or (root.joinpath(*parts[:n]) / "__init__.py").is_file()
        for n in range(2, len(parts) + 1)
    )


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the string statements that document (module, class, function, attribute)."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }


def core_domain_strings() -> list[str]:
    """Strings in `core/` code that name a domain's module (`"detection.tasks"`,
    `"intel.tasks:beat_entries"`) or a domain's Celery task (`"drills.tick"`): the kernel
    reaching a domain by name instead of by import. Documentation strings are prose and not
    read; a bare package name (`"dijkwacht"` is the product and the ECS extension's field
    prefix, `"advisories"` a table) and names of no module (`"dijkwacht.exercise"`, the
    column `"advisories.id"`) pass."""
    tasks = _task_names(REPO_ROOT)
    found = []
    for path in sorted((REPO_ROOT / "core").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        prose = _docstrings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            text = node.value.strip()
            if id(node) in prose or not _DOTTED.fullmatch(text):
                continue
            if text.split(".")[0].split(":")[0] not in (*DOMAINS, *ROOTS):
                continue
            if text in tasks or _names_a_module(REPO_ROOT, text):
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} names {text!r}")
    return sorted(found)


def test_core_names_no_domain_in_strings() -> None:
    """The composition root (`dijkwacht.celery_app`) lists the domains' task modules; core
    builds whatever it is given (#22 point 9)."""
    assert core_domain_strings() == []


def test_the_string_check_catches_a_domain_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "core").mkdir()
    (tmp_path / "drills").mkdir()
    (tmp_path / "drills" / "__init__.py").write_text("")
    (tmp_path / "drills" / "tasks.py").write_text(
        'from celery import shared_task\n\n@shared_task(name="drills.tick")\ndef t(): ...\n'
    )
    (tmp_path / "core" / "q.py").write_text(
        '"""Docstrings may say drills.tasks."""\n'
        'MODULES = ("drills.tasks", "drills.tasks:beat_entries", "drills")\n'
        'TASK = "drills.tick"\n'
        'FIELD, TABLE, FILE = "dijkwacht.exercise", "drills.id", "dijkwacht.toml"\n'
    )
    for package in (*DOMAINS, *ROOTS):
        (tmp_path / package).mkdir(exist_ok=True)
    monkeypatch.setattr(f"{__name__}.REPO_ROOT", tmp_path)
    assert core_domain_strings() == [
        "core/q.py:2 names 'drills.tasks'",
        "core/q.py:2 names 'drills.tasks:beat_entries'",
        "core/q.py:3 names 'drills.tick'",
    ]


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
