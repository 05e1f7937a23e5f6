"""Every public service is reachable: a name a domain exports is used outside the domain.

Each domain (and the breach context inside `playbooks/`) exposes its public functions, types and
constants from one facade, `<domain>/service.py`, listed in `__all__` (collectors has a second
one for its process side, `collectors/processes.py`, checked the same way). A name there that no
page, command, task or other domain uses is a feature only the tests can reach: wire it to its
user or delete it. This reads the source (AST, nothing imported) of:

- every module of `dashboard/` and `dijkwacht/` (the composition roots),
- every Celery entry point (`<domain>/tasks.py`, the domain's own included),
- every module of the other domains (domains call each other through their services),

and counts as a reference `from <domain>.service import name`, `<alias>.name` where the alias is
bound to the service module (`from detection import service as detection`), the dotted
`<domain>.service.name`, and a string `"<domain>.service.name"` or `"<domain>.service:name"`
(Celery and hook registrations). Tests, benches and scripts do not count.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ROOTS = ("dashboard", "dijkwacht")


@dataclass(frozen=True)
class Context:
    """A bounded context: its package folder and one of its facades (`service`, or the process
    side's `processes` where a domain keeps servers and readers out of its light service)."""

    package: str  # dotted: "playbooks.breach"
    facade: str = "service"

    @property
    def folder(self) -> str:
        return self.package.replace(".", "/")

    @property
    def service(self) -> str:
        return f"{self.package}.{self.facade}"


CONTEXTS = (
    *(
        Context(name)
        for name in (
            "collectors", "detection", "intel", "playbooks", "playbooks.breach", "drills",
            "awareness", "advisories", "compliance", "ldv", "demo_world", "core.privacy",
        )
    ),
    Context("collectors", "processes"),  # the process side: listeners, consumer, file readers
)  # fmt: skip


# Names exported today that only tests (or the domain itself) use; each entry must still be
# unreached, so this list can only shrink. Remove an entry by deleting the function and its
# tests, or by wiring it to the page, command or task that needs it.
KNOWN_UNREACHED: dict[str, frozenset[str]] = {
    # Only tests call these (playbook runs start through routing; tests start them directly).
    "playbooks": frozenset({
        "deliveries_of", "export_incident", "find_step", "incident_metrics", "route_new_alerts",
        "start_run", "verify_police_package",
    }),
    "drills": frozenset({"declare_criteria"}),  # only tests call it
    "compliance": frozenset({"run_checks"}),  # the task calls evaluate_measures; tests this
}  # fmt: skip


def exported(root: Path, context: Context) -> list[str] | None:
    """The names in the facade's `__all__` (a literal list or tuple), or None without one."""
    path = root / context.folder / f"{context.facade}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                return [str(name) for name in ast.literal_eval(node.value)]
    return None


def _owner(relative: Path) -> Context | None:
    """The innermost context a module belongs to (`playbooks/breach/x.py` is breach's)."""
    dotted = ".".join(relative.with_suffix("").parts)
    found = [Context(c.package) for c in CONTEXTS if dotted.startswith(c.package + ".")]
    return max(found, key=lambda c: len(c.package), default=None)


def searched(root: Path, context: Context) -> Iterator[Path]:
    """The modules whose references count for `context` (see the module docstring)."""
    tops = dict.fromkeys((*ROOTS, *(c.package.split(".")[0] for c in CONTEXTS)))
    for top in tops:
        for path in sorted((root / top).rglob("*.py")):
            owner = _owner(path.relative_to(root))
            if owner is None or path.name == "tasks.py" or owner.package != context.package:
                yield path  # a root, a Celery entry point or another context


@dataclass(frozen=True)
class _Facts:
    """What one module imports and names, read once (the test asks about every facade)."""

    imported_from: tuple[tuple[str, str, str], ...]  # (module, name, bound as)
    imported_as: tuple[tuple[str, str], ...]  # `import a.b as c`: (a.b, c)
    strings: frozenset[str]
    attributes: tuple[tuple[str, str], ...]  # (dotted value, attribute): `a.b.name`


def _dotted(node: ast.expr) -> str | None:
    """`a.b.c` for a chain of attribute accesses on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


@functools.cache
def _facts(path: Path) -> _Facts:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    imported_from, imported_as, strings, attributes = [], [], set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                imported_from.append((node.module, alias.name, alias.asname or alias.name))
        elif isinstance(node, ast.Import):
            imported_as += [(a.name, a.asname) for a in node.names if a.asname]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.add(node.value)
        elif isinstance(node, ast.Attribute):
            value = _dotted(node.value)
            if value is not None:
                attributes.append((value, node.attr))
    return _Facts(tuple(imported_from), tuple(imported_as), frozenset(strings), tuple(attributes))


def references(path: Path, module: str) -> set[str]:
    """Names of `module` (a dotted service module) that `path` refers to."""
    facts = _facts(path)
    parent, _, leaf = module.rpartition(".")
    names = {name for source, name, _ in facts.imported_from if source == module}
    aliases = {
        bound for source, name, bound in facts.imported_from if (source, name) == (parent, leaf)
    }
    aliases |= {bound for name, bound in facts.imported_as if name == module}
    aliases.add(module)  # `import detection.service` then `detection.service.name`
    names |= {attr for value, attr in facts.attributes if value in aliases}
    for text in facts.strings:
        if text.startswith((module + ".", module + ":")):
            names.add(text[len(module) + 1 :])
    return names


def unreached(root: Path, context: Context) -> list[str]:
    """Names in the facade's `__all__` that nothing outside the context refers to."""
    found: set[str] = set()
    for path in searched(root, context):
        found |= references(path, context.service)
    return sorted(set(exported(root, context) or ()) - found)


@pytest.mark.parametrize("context", CONTEXTS, ids=lambda c: c.service)
def test_each_domain_has_a_service_facade_with_all(context: Context) -> None:
    names = exported(REPO_ROOT, context)
    assert names, f"{context.folder}/{context.facade}.py needs a non-empty __all__"
    assert len(names) == len(set(names)), f"{context.service}.__all__ repeats a name"


@pytest.mark.parametrize("context", CONTEXTS, ids=lambda c: c.service)
def test_every_exported_name_is_reached(context: Context) -> None:
    found = set(unreached(REPO_ROOT, context))
    known = KNOWN_UNREACHED.get(context.package, frozenset())
    assert not known - found, f"now reached or gone, drop from KNOWN_UNREACHED: {known - found}"
    missing = sorted(found - known)
    assert not missing, (
        f"{context.service} exports names no page, command, task or other domain uses "
        f"(wire them to their user or delete them): {missing}"
    )


def test_the_check_catches_an_unreached_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def write(relative: str, text: str) -> None:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)

    write(
        "detection/service.py",
        "__all__ = ['a', 'b', 'c', 'd', 'e', 'f', 'unused', 'internal']\n"
        "def a(): ...\ndef helper(): ...\n",
    )
    write("detection/engine.py", "from detection.service import internal\n")
    write("detection/tasks.py", "from detection import service\nservice.b()\n")
    write("dashboard/views/x.py", "from detection.service import a\n")
    write("dijkwacht/commands/y.py", "import detection.service as det\ndet.c()\n")
    write("playbooks/routing.py", "import detection.service\ndetection.service.d()\n")
    write("drills/tasks.py", "HOOK = 'detection.service:e'\n")
    write("awareness/render.py", "from detection import service as s\nx: s.f\n")
    write("tests/test_z.py", "from detection.service import unused\n")
    detection = Context("detection")
    assert unreached(tmp_path, detection) == ["internal", "unused"]
    # The breach context is its own: playbooks' other modules count, breach's own do not.
    write("playbooks/breach/service.py", "__all__ = ['x', 'y', 'z']\n")
    write("playbooks/breach/letters.py", "from playbooks.breach.service import x\n")
    write("playbooks/breach/tasks.py", "from playbooks.breach.service import y\n")
    write("playbooks/service.py", "from playbooks.breach import service as b\nb.z\n")
    assert unreached(tmp_path, Context("playbooks.breach")) == ["x"]
