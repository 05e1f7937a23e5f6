"""Store backends share code through `base`, `sqlite_common` and `es_common`, never each other."""

from __future__ import annotations

import ast
from pathlib import Path

STORE = Path(__file__).resolve().parents[3] / "core" / "store"
# Backend module -> the store modules it may import.
MAY_IMPORT = {
    "sqlite_events": {"base", "sqlite_common", "sqlite_event_text", "sqlite_event_sql"},
    "sqlite_alerts": {"base", "sqlite_common"},
    "sqlite_event_text": {"base", "sqlite_common"},
    "sqlite_event_sql": {"base", "sqlite_common"},
    "elasticsearch": {"base", "es_common"},
    "elasticsearch_alerts": {"base", "es_common"},
    "sqlite_common": {"base"},
    "es_common": {"base"},
}


def store_imports(path: Path) -> set[str]:
    """The `core.store` modules `path` imports (`from core.store import es_common` included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "core.store":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("core.store."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("core.store.")}
    return found


def test_backends_reach_each_other_only_through_the_shared_modules() -> None:
    wrong = {
        module: sorted(store_imports(STORE / f"{module}.py") - allowed)
        for module, allowed in MAY_IMPORT.items()
    }
    assert {module: found for module, found in wrong.items() if found} == {}


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text(
        "from core.store.sqlite_alerts import _check_alert\n"
        "from core.store import es_common\nimport core.store.base\n"
    )
    assert store_imports(bad) == {"sqlite_alerts", "es_common", "base"}
