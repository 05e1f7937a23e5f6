"""Every third-party import in the platform's code is installed by `./dev up` (no test extras).

`./dev up` installs `pip install -e .` without `[test]`; a runtime import that only a test extra
brings in would pass the suite and still break the platform on a fresh machine.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RUNTIME_PACKAGES = (
    "core", "collectors", "detection", "intel", "playbooks", "drills", "awareness", "advisories",
    "compliance", "ldv", "demo_world", "dashboard", "dijkwacht",
)  # fmt: skip
# Installed by ./dev with --no-deps on purpose (docs/dependencies.md).
INSTALLED_SEPARATELY = {"pyattck", "pyattck-data"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_closure() -> set[str]:
    """Distributions `pip install .` pulls in: dijkwacht's requirements, recursively, no extras."""
    seen: set[str] = set()
    todo = ["dijkwacht"]
    while todo:
        name = todo.pop()
        try:
            reqs = requires(name) or []
        except PackageNotFoundError:
            continue
        for req in reqs:
            if "extra ==" in req and name == "dijkwacht":
                continue  # dijkwacht's own [test] extra
            if "extra ==" in req:
                continue  # other packages' optional extras are not installed by default
            dist = _normal(re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0])
            if dist not in seen:
                seen.add(dist)
                todo.append(dist)
    return seen


def _third_party_imports() -> dict[str, str]:
    found: dict[str, str] = {}
    for package in RUNTIME_PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in RUNTIME_PACKAGES:
                        continue
                    found.setdefault(top, str(path.relative_to(REPO_ROOT)))
    return found


def test_every_runtime_import_comes_with_the_runtime_install() -> None:
    closure = _runtime_closure() | INSTALLED_SEPARATELY
    owners = packages_distributions()
    missing = []
    for module, where in sorted(_third_party_imports().items()):
        dists = {_normal(d) for d in owners.get(module, [])}
        if not dists & closure:
            missing.append(f"{module} (imported in {where}; from {sorted(dists) or 'nowhere'})")
    assert missing == [], "not installed by `./dev up`: " + "; ".join(missing)
