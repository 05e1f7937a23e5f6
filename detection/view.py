"""The matcher's view of one event: flattened, keys lower-cased, string forms lower-cased.

Sigma field names are matched case-insensitively, like the reference engine (Zircolite keeps
events in SQLite, whose column names are case-insensitive). Keys that differ only by case
(``ProcessID`` in System, ``ProcessId`` in EventData) therefore collapse into one field holding
both values; a test passes if any of them passes. Nested objects become dotted paths
(``process.command_line``), the form ECS pipelines map to. ``null`` values count as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def text_of(value: Any) -> str:
    """String form of a JSON scalar, as rules compare it (4688 and "4688" are the same)."""
    if type(value) is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


_SCALARS = frozenset({str, int, float, bool})


def raw_view(event: Mapping[str, Any]) -> dict[str, Any]:
    """Lower-cased dotted keys -> original scalar (or tuple of scalars for lists/collisions)."""
    # Fast path: a flat event of scalars without case-colliding keys (the common case).
    if set(map(type, event.values())) <= _SCALARS:
        flat = {key.lower(): value for key, value in event.items()}
        if len(flat) == len(event):
            return flat
    raw: dict[str, Any] = {}
    _collect(event, "", raw)
    return raw


def _collect(node: Mapping[str, Any], prefix: str, raw: dict[str, Any]) -> None:
    for key, value in node.items():
        name = f"{prefix}{key}".lower() if prefix else key.lower()
        if value is None:
            continue
        if isinstance(value, Mapping):
            _collect(value, f"{name}.", raw)
            continue
        if isinstance(value, list):
            items = tuple(v for v in value if v is not None and not isinstance(v, Mapping | list))
            if not items:
                continue
            value = items if len(items) > 1 else items[0]
        if name in raw:
            old = raw[name]
            old_items = old if type(old) is tuple else (old,)
            new_items = value if type(value) is tuple else (value,)
            raw[name] = old_items + new_items
        else:
            raw[name] = value


def low_view(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Same keys as ``raw``; values as lower-cased strings (tuples stay aligned with ``raw``)."""
    return {
        key: tuple(text_of(v).lower() for v in value)
        if type(value) is tuple
        else (value.lower() if type(value) is str else text_of(value).lower())
        for key, value in raw.items()
    }


def search_text(raw: Mapping[str, Any]) -> str:
    """All values lower-cased in one string, for the literal prefilter (NUL is in no literal)."""
    return "\x00".join(
        [
            value
            if type(value) is str
            else "\x00".join(map(text_of, value))
            if type(value) is tuple
            else text_of(value)
            for value in raw.values()
        ]
    ).lower()
