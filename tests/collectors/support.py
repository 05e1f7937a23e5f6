"""Shared test helpers: where the corpus lives and the ECS field check every event must pass."""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from core.events import flatten, validate_event
from tests.conftest import CORPUS_DIR, SHARED_DIR

REPO = Path(__file__).resolve().parents[2]
CORPUS = CORPUS_DIR / "logs"
ECS_CSV = SHARED_DIR / "reference" / "ecs_fields.csv"
EXTENSION_DOC = REPO / "docs" / "ecs-extension.md"


def corpus_file(relative: str) -> Path:
    """A corpus file, or skip: CI clones the repo with shared/ beside it, laptops may not."""
    path = CORPUS / relative
    if not path.is_file():
        pytest.skip(
            f"test corpus not found at {path} (shared/ beside the repo, or DIJKWACHT_SHARED_DIR)",
            allow_module_level=True,  # also when a module builds its parameters from it
        )
    return path


@cache
def ecs_fields() -> tuple[frozenset[str], tuple[str, ...]]:
    """ECS field names, and the prefixes below which any key is allowed (flattened types)."""
    if not ECS_CSV.is_file():
        pytest.skip(f"ECS reference not found at {ECS_CSV}")
    with ECS_CSV.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = frozenset(row["Field"] for row in rows)
    open_prefixes = tuple(f"{row['Field']}." for row in rows if row["Type"] == "flattened")
    return names, open_prefixes


@cache
def extension_fields() -> dict[str, str]:
    """`dijkwacht.*` and `winlog.*` fields documented in docs/ecs-extension.md, with types."""
    found: dict[str, str] = {}
    for line in EXTENSION_DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `((?:dijkwacht|winlog)\.[a-z0-9_.]+)` \| (\w+) \|", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def undocumented_fields(event: dict[str, Any]) -> list[str]:
    """Field paths in `event` that are neither ECS nor documented `dijkwacht.*` fields."""
    names, open_prefixes = ecs_fields()
    extension = extension_fields()
    extension_open = tuple(f"{name}." for name, kind in extension.items() if kind == "flattened")
    bad = []
    for path, _value in flatten(event):
        if path in names or path.startswith(open_prefixes):
            continue
        if path in extension or path.startswith(extension_open):
            continue
        bad.append(path)
    return bad


def assert_ecs(event: dict[str, Any]) -> dict[str, Any]:
    """The two promises every parser output keeps: valid event, only known fields."""
    validate_event(event)
    assert undocumented_fields(event) == []
    return event
