"""The backends the store contract runs against, and a handle that opens their stores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.store.base import AlertStore, EventStore

BACKENDS = ["sqlite", "elasticsearch"]


@dataclass
class Backend:
    """Opens event and alert stores of one backend on the same storage, as often as asked."""

    name: str
    open: Callable[[], tuple[EventStore, AlertStore]]
    opened: list[tuple[EventStore, AlertStore]] = field(default_factory=list)

    def pair(self) -> tuple[EventStore, AlertStore]:
        pair = self.open()
        self.opened.append(pair)
        return pair
