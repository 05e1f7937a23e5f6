"""Errors of the collectors domain, in a module of their own so any collector may import them."""

from __future__ import annotations

import struct

from core.errors import DijkwachtError


class ParseError(DijkwachtError):
    """A raw record could not be parsed; `field` and `offset` say where, when known.

    Reasons never quote personal data (the app-audit parser relies on that), so the error text
    is safe to store next to the dead-lettered record.
    """

    def __init__(self, reason: str, field: str | None = None, offset: int | None = None) -> None:
        where = []
        if field is not None:
            where.append(field)
        if offset is not None:
            where.append(f"offset {offset}")
        prefix = f"{' at '.join(where)}: " if where else ""
        super().__init__(f"{prefix}{reason}")
        self.reason = reason
        self.field = field
        self.offset = offset


# What hostile bytes can make a decoder's own slicing and scapy's dissection raise. Decoder entry
# points catch exactly these and re-raise ParseError with a short reason; anything else (a
# MemoryError, a KeyboardInterrupt) is not about the input and propagates.
MALFORMED_INPUT: tuple[type[Exception], ...] = (
    IndexError,
    KeyError,
    ValueError,  # also UnicodeDecodeError, orjson.JSONDecodeError
    TypeError,
    AttributeError,  # scapy: a field a truncated layer never got
    OverflowError,
    ZeroDivisionError,
    RecursionError,
    struct.error,
)
