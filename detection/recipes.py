"""Closures that a stored rule can get back: made by a named factory from plain arguments.

A compiled rule's generated function (``detection.codegen``) refers to value tests by name;
most are data (needles, sets, patterns), some are closures (a regex test with its required
counts, a ``cidr`` test with its memo, a multi-literal scanner). Each such closure remembers
the factory and the arguments that made it, so the compile cache can store "call
``detection.typed_values._cidr_test('10.0.0.0/8')``" instead of the closure itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def rebuildable(factory: F) -> F:
    """Mark a module-level factory whose results an image may hold as (factory, arguments).

    The factory's positional arguments must be plain data (str, numbers, tuples and frozensets
    of those); each function it returns remembers them in ``__recipe__``.
    """

    @functools.wraps(factory)
    def build(*args: Any) -> Any:
        made = factory(*args)
        if not hasattr(made, "__recipe__"):  # a factory may record a better recipe itself
            made.__recipe__ = (factory.__module__, factory.__name__, args)
        return made

    build.__rebuildable__ = True  # type: ignore[attr-defined]
    return build  # type: ignore[return-value]
