"""What a regular expression reveals before it runs: literals it needs, runs it needs in order.

The rule index wants literals a match must contain (``regex_literals``); the value tests want
cheap necessary counts before a backtracking search (``required_counts``) and, for patterns
shaped ``a.*b.*c``, an exact linear check instead of one (``ordered_runs``). Everything here
reads CPython's own regex parser, so it agrees with ``re`` on what a pattern means.
"""

from __future__ import annotations

import re
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from detection.literals import MARKS


def ordered_runs(pattern: str) -> tuple[str, ...] | None:
    """Literal runs of a pattern shaped ``a.*b.*c`` (no flags, ``.`` stops at newlines), or None.

    ``re.search`` of such a pattern holds exactly when one line has the runs in order without
    overlap, which ``str.find`` from left to right decides in linear time; Python's backtracking
    takes time exponential in the number of ``.*`` on long lines that fail late (SigmaHQ's
    ``\\+.*\\+.*...`` obfuscation checks: milliseconds per command line).
    """
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError):
        return None
    if parsed.state.flags & ~re.UNICODE:  # inline flags: (?s), (?i), (?x)...
        return None
    runs: list[str] = []
    run: list[str] = []
    gaps = 0
    for op, arg in list(parsed):
        if op is sre_constants.LITERAL and arg != ord("\n"):
            run.append(chr(arg))
            continue
        repeat = op is sre_constants.MAX_REPEAT or op is sre_constants.MIN_REPEAT
        if not repeat or arg[0] != 0 or arg[1] != sre_constants.MAXREPEAT:
            return None
        if list(arg[2]) != [(sre_constants.ANY, None)]:
            return None
        gaps += 1
        if run:
            runs.append("".join(run))
            run = []
    if run:
        runs.append("".join(run))
    return tuple(runs) if runs and gaps else None


def runs_in_line(text: str, runs: tuple[str, ...]) -> bool:
    """Whether one line of ``text`` holds ``runs`` in order (leftmost finds are optimal)."""
    for line in text.split("\n") if "\n" in text else (text,):
        position = 0
        for run in runs:
            found = line.find(run, position)
            if found < 0:
                break
            position = found + len(run)
        else:
            return True
    return False


def required_counts(pattern: str) -> tuple[tuple[str, int], ...]:
    """Literal runs a match needs several times (``\\+.*\\+.*\\+`` needs three ``+``).

    Only the pattern's top level (no case-insensitivity, global or inline): each run of literal
    characters there occupies its own stretch of every match, so a text with fewer
    non-overlapping occurrences of a run than the pattern has cannot match. Such checks spare
    rules like SigmaHQ's ``\\+.*\\+.*...`` (14 ``+``) Python's backtracking on long command lines.
    """
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError):
        return ()
    if parsed.state.flags & re.IGNORECASE:
        return ()
    runs: dict[str, int] = {}
    run: list[str] = []
    for op, arg in [*list(parsed), (None, None)]:
        if op is sre_constants.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            text = "".join(run)
            runs[text] = runs.get(text, 0) + 1
            run = []
    return tuple((text, times) for text, times in runs.items() if times > 1)


def regex_literals(pattern: str) -> frozenset[str] | None:
    """Lower-cased substrings one of which any match of ``pattern`` must contain, if any."""
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError):
        return None
    found = _required_literals(list(parsed), sre_constants)
    if not found or any(mark in text for text in found for mark in MARKS):
        return None
    return found


def _required_literals(sequence: list[Any], c: Any) -> frozenset[str] | None:
    options: list[frozenset[str]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            options.append(frozenset({"".join(run).lower()}))
            run.clear()

    for op, arg in sequence:
        if op is c.LITERAL:
            run.append(chr(arg))
            continue
        flush()
        sub: frozenset[str] | None = None
        if op is c.SUBPATTERN:
            sub = _required_literals(list(arg[-1]), c)
        elif op is c.BRANCH:
            branches = [_required_literals(list(b), c) for b in arg[1]]
            if all(branches):
                sub = frozenset().union(*(b for b in branches if b))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and arg[0] >= 1:
            sub = _required_literals(list(arg[2]), c)
        if sub:
            options.append(sub)
    flush()
    return min(options, key=_cost, default=None)


def _cost(literals: frozenset[str]) -> float:
    return sum(16.0 ** -min(len(lit), 10) for lit in literals)
