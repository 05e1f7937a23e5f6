"""Every method of the store protocols is called by some contract test in this folder."""

from __future__ import annotations

import ast
from pathlib import Path

from core.store.base import (
    AlertStore,
    EventStore,
)


def _protocol_methods(protocol: type) -> set[str]:
    return {name for name, value in vars(protocol).items() if callable(value) and name[0] != "_"}


def contract_coverage(source: str) -> dict[str, set[str]]:
    """Methods each protocol's tests call: a test covers `.name` of a protocol its fixture
    parameters are annotated with (`store: EventStore`, `stores: tuple[EventStore, ...]`)."""
    covered: dict[str, set[str]] = {"EventStore": set(), "AlertStore": set()}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
            continue
        protocols = {
            name.id
            for arg in node.args.args
            if arg.annotation is not None
            for name in ast.walk(arg.annotation)
            if isinstance(name, ast.Name) and name.id in covered
        }
        used = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
        for protocol in protocols:
            covered[protocol] |= used
    return covered


def test_every_protocol_method_has_a_contract_test() -> None:
    covered: dict[str, set[str]] = {"EventStore": set(), "AlertStore": set()}
    for path in sorted(Path(__file__).parent.glob("test_*_contract.py")):
        for protocol, used in contract_coverage(path.read_text(encoding="utf-8")).items():
            covered[protocol] |= used
    missing = {
        protocol.__name__: sorted(_protocol_methods(protocol) - covered[protocol.__name__])
        for protocol in (EventStore, AlertStore)
    }
    assert missing == {"EventStore": [], "AlertStore": []}


def test_the_coverage_check_sees_a_missing_method() -> None:
    source = (
        "def test_a(store: EventStore) -> None:\n    store.search(q)\n"
        "def test_b(stores: tuple[EventStore, AlertStore]) -> None:\n    e, a = stores\n"
        "    a.merge_body('x', {})\n"
        "def helper(alerts: AlertStore) -> None:\n    alerts.get('x')\n"
    )
    covered = contract_coverage(source)
    assert covered == {"EventStore": {"search", "merge_body"}, "AlertStore": {"merge_body"}}
    assert "get" in _protocol_methods(AlertStore) - covered["AlertStore"]
