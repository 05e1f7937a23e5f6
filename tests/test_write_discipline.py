"""One write discipline: only boundaries commit, roll back or take the SQLite write lock.

Services take a session and write through it; the boundary (a view, a Celery task, a CLI
command) opens `core.store.unit_of_work` around them, which begins IMMEDIATE on SQLite and
commits once. A service that commits on its own splits the boundary's transaction, and one
that reads before it takes the lock is what made SQLite answer "database is locked" at once.
This test reads the source (AST) of every domain module and fails on `.commit()`,
`.rollback()` or `acquire_write_lock(` outside the places allowed to call them.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Where the rule holds: the kernel, every domain, and the dashboard's non-view modules.
CHECKED = (
    "core", "collectors", "detection", "intel", "playbooks", "drills", "awareness", "advisories",
    "compliance", "ldv", "demo_world", "dashboard",
)  # fmt: skip

# Boundaries and the store itself: these open units of work or implement them.
BOUNDARIES = (
    "core/store/",  # unit_of_work, acquire_write_lock and the raw SQLite stores
    "dashboard/views/",
    "dashboard/deps.py",
)
BOUNDARY_FILE_NAMES = ("tasks.py",)  # Celery entry points (`*/tasks.py`) are boundaries too

# Modules allowed to commit for now; empty since every domain service was converted (#16). The
# test below fails on a module listed here that no longer needs it, so the list only shrinks.
NOT_YET_CONVERTED: frozenset[str] = frozenset()

_METHODS = frozenset({"commit", "rollback"})
_FUNCTIONS = frozenset({"acquire_write_lock"})


def _is_boundary(relative: str) -> bool:
    return relative.startswith(BOUNDARIES) or relative.rsplit("/", 1)[-1] in BOUNDARY_FILE_NAMES


def _offences(source: str) -> list[tuple[int, str]]:
    """(line, call) of every commit/rollback method call and acquire_write_lock call."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _METHODS:
            found.append((node.lineno, f".{func.attr}()"))
        elif isinstance(func, ast.Attribute) and func.attr in _FUNCTIONS:
            found.append((node.lineno, f"{func.attr}("))
        elif isinstance(func, ast.Name) and func.id in _FUNCTIONS:
            found.append((node.lineno, f"{func.id}("))
    return found


def _checked_modules() -> dict[str, list[tuple[int, str]]]:
    modules = {}
    for package in CHECKED:
        for path in sorted((REPO / package).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if not _is_boundary(relative):
                modules[relative] = _offences(path.read_text(encoding="utf-8"))
    return modules


def test_the_check_sees_each_kind_of_call() -> None:
    source = "db.commit()\nself.db.rollback()\nacquire_write_lock(db)\nstore.acquire_write_lock(x)"
    assert [line for line, _ in _offences(source)] == [1, 2, 3, 4]
    assert _offences("with unit_of_work(factory) as db:\n    db.flush()\n") == []


def test_services_never_commit_roll_back_or_lock() -> None:
    modules = _checked_modules()
    assert "core/audit.py" in modules and "detection/stream.py" in modules  # the scan sees them
    offenders = {
        module: calls
        for module, calls in modules.items()
        if calls and module not in NOT_YET_CONVERTED
    }
    assert offenders == {}, (
        "services write in the caller's unit of work; open `unit_of_work(factory)` at the "
        f"boundary (view, task, command) instead: {offenders}"
    )


def test_the_allow_list_only_names_modules_that_still_need_it() -> None:
    modules = _checked_modules()
    stale = sorted(module for module in NOT_YET_CONVERTED if not modules.get(module))
    assert stale == [], f"converted (or gone): delete from NOT_YET_CONVERTED: {stale}"


_DB_NAMES = frozenset({"db", "sessions", "factory"})


def _blocking_calls_in_async(source: str) -> list[tuple[int, str]]:
    """Calls in `async def` bodies that do relational work on the event loop: a session or
    session factory passed on, or a unit of work opened, unless handed to `run_in_threadpool`."""
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name == "run_in_threadpool":
                continue
            passes_db = any(k.arg in _DB_NAMES for k in node.keywords) or any(
                isinstance(a, ast.Name) and a.id in _DB_NAMES for a in node.args
            )
            if name == "unit_of_work" or passes_db:
                found.append((node.lineno, f"{function.name}: {name}(...)"))
    return found


def test_no_async_view_or_dependency_does_database_work_on_the_event_loop() -> None:
    """A database wait on the event loop stalls every request (`/livez` took 40 s once)."""
    assert _blocking_calls_in_async("async def v(db):\n    read(db=db)\n") == [(2, "v: read(...)")]
    assert (
        _blocking_calls_in_async("async def v(db):\n    await run_in_threadpool(f, db=db)\n") == []
    )
    offenders = {
        path.relative_to(REPO).as_posix(): calls
        for path in sorted((REPO / "dashboard").rglob("*.py"))
        if (calls := _blocking_calls_in_async(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, f"make these sync (FastAPI runs them in the thread pool): {offenders}"
