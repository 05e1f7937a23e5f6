"""The matcher's view of one event: flattened, keys lower-cased, string forms lower-cased.

Sigma field names are matched case-insensitively, like the reference engine (Zircolite keeps
events in SQLite, whose column names are case-insensitive). Keys that differ only by case
(``ProcessID`` in System, ``ProcessId`` in EventData) therefore collapse into one field holding
both values; a test passes if any of them passes. Nested objects become dotted paths
(``process.command_line``), the form ECS pipelines map to. ``null`` values count as absent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
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


def lowered(value: Any) -> Any:
    """Lower-cased string form of a raw value (a tuple stays a tuple, aligned with the raw one)."""
    if type(value) is str:
        return value.lower()
    if type(value) is tuple:
        return tuple(text_of(v).lower() for v in value)
    return text_of(value).lower()


class LowView(dict[str, Any]):
    """Lower-cased values computed on first use: most events are decided by two or three fields.

    Predicates read it with ``low[key]``; a field the event lacks reads as ``None``. Iterating
    it directly sees only the fields computed so far: call ``complete()`` first (keywords do).
    """

    __slots__ = ("raw",)

    def __init__(self, raw: Mapping[str, Any]):
        super().__init__()
        self.raw = raw

    def __missing__(self, key: str) -> Any:
        value = self.raw.get(key)
        if type(value) is str:  # the common case, without a call to ``lowered``
            text = self[key] = value.lower()
            return text
        low = None if value is None else lowered(value)
        self[key] = low
        return low

    def complete(self) -> LowView:
        """Every field of the event, lower-cased (for keyword searches over all values)."""
        for key in self.raw:
            if key not in self:
                self.__missing__(key)
        return self


class EventView(LowView):
    """A ``LowView`` over a flat event of scalars of a known shape, filling ``raw`` as read.

    Candidate rules read a handful of an event's thirty-odd fields; building the whole raw view
    first cost more than evaluating them. ``raw`` starts empty and gets a field when the field
    is first read through this view (predicates always read ``low[key]`` before
    ``raw[key]``); ``complete()`` fills every field (keyword searches).
    """

    __slots__ = ("event", "groups")

    def __init__(self, event: Mapping[str, Any], shape: Shape):
        super().__init__({})
        self.event = event
        self.groups = shape.groups

    def __missing__(self, key: str) -> Any:
        keys = self.groups.get(key)
        if keys is None:
            self[key] = None
            return None
        raw: dict[str, Any] = self.raw  # type: ignore[assignment]
        if len(keys) == 1:
            value = raw[key] = self.event[keys[0]]
        else:  # case-colliding keys: one field holding every value
            value = raw[key] = tuple([self.event[k] for k in keys])
        low = self[key] = lowered(value)
        return low

    def complete(self) -> LowView:
        """Every field of the event, in ``raw`` too."""
        for key in self.groups:
            if key not in self:
                self.__missing__(key)
        return self


def complete(low: dict[str, Any]) -> None:
    """``low.complete()`` for views that can (predicates are typed with plain dicts)."""
    if isinstance(low, LowView):
        low.complete()


def is_flat(event: Mapping[str, Any]) -> bool:
    """Every value a JSON scalar (no null, list or object): an ``EventView`` can read it."""
    return _SCALARS.issuperset(map(type, event.values()))


def low_view(raw: Mapping[str, Any]) -> LowView:
    """Same keys as ``raw``; values as lower-cased strings (tuples stay aligned with ``raw``)."""
    return LowView(raw).complete()


@dataclass(frozen=True, slots=True)
class Shape:
    """What one key layout (names and order) tells about every event that has it.

    Events from one source share a handful of layouts, so this is computed once per layout and
    looked up per event by the tuple of its keys, instead of lower-casing every key per event.
    The engine also keeps, per layout, its routes (plan and prefilter text template) by raw
    Channel/EventID values (``plans``).
    """

    names: tuple[str, ...]  # lower-cased keys, in the events' key order
    groups: dict[str, tuple[str, ...]]  # lower-cased name -> original keys (several: collision)
    merged: tuple[tuple[str, tuple[str, ...]], ...]  # names several keys collapse into
    lookup: tuple[str | None, ...] | None  # original key of each wanted field (None: absent)
    key_values: Callable[[Mapping[str, Any]], tuple[Any, ...]]  # event -> values by ``lookup``
    plans: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # routes by those values


def shape_of(keys: tuple[Any, ...], wanted: tuple[str, ...]) -> Shape | None:
    """The shape of a key layout; None when keys are not all strings (use the general path)."""
    if not all(type(key) is str for key in keys):
        return None
    names = tuple(key.lower() for key in keys)
    groups: dict[str, list[str]] = {}
    for name, key in zip(names, keys, strict=True):
        groups.setdefault(name, []).append(key)
    merged = tuple((name, tuple(group)) for name, group in groups.items() if len(group) > 1)
    lookup: tuple[str | None, ...] | None = None
    if not any(len(groups.get(name, ())) > 1 for name in wanted):
        lookup = tuple(groups[name][0] if name in groups else None for name in wanted)
    return Shape(
        names=names,
        groups={name: tuple(group) for name, group in groups.items()},
        merged=merged,
        lookup=lookup,
        key_values=tuples_of(lookup or ()),
    )


def tuples_of(keys: Sequence[str | None]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A reader of the values under ``keys`` as one tuple (None: the key is absent).

    An ``itemgetter`` when every key is there: one C call per event instead of a loop.
    """
    if any(key is None for key in keys):
        wanted = tuple(keys)
        return lambda event: tuple([None if key is None else event[key] for key in wanted])
    if len(keys) > 1:
        return itemgetter(*keys)
    if keys:
        one = itemgetter(keys[0])
        return lambda event: (one(event),)
    return lambda event: ()


def flat_raw(event: Mapping[str, Any], shape: Shape | None) -> dict[str, Any]:
    """``raw_view`` for an event of this shape, without re-lowering its keys."""
    if shape is None or not _SCALARS.issuperset(map(type, event.values())):
        return raw_view(event)
    raw = dict(zip(shape.names, event.values()))  # noqa: B905 - same keys: same length
    for name, keys in shape.merged:  # case-colliding keys: one field holding every value
        raw[name] = tuple(event[key] for key in keys)
    return raw
