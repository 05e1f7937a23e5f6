"""Multi-literal search: which of many literals occur in a text, and does any occur at all.

The rule index and ``contains`` value lists ask this for every candidate event, so it is the
hottest loop of the matcher. Hyperscan (a vectorised multi-pattern matcher) answers it in about
a microsecond for a kilobyte of text and thousands of literals, some twenty times faster than an
Aho-Corasick automaton walked from Python. Where the hyperscan wheel is unavailable we fall back
to pyahocorasick: same answers, slower.

Texts and literals are compared as UTF-8 bytes. That is exact: UTF-8 is self-synchronising, so a
string occurs in another exactly when its encoding occurs in the other's encoding.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any

hyperscan: Any
try:  # pragma: no branch - which branch runs depends on the platform's wheels
    import hyperscan
except ImportError:  # pragma: no cover - exercised only without the hyperscan wheel
    hyperscan = None


def _pattern(literal: bytes) -> bytes:
    """A hyperscan expression matching exactly ``literal`` (every byte escaped, no syntax)."""
    return b"".join(b"\\x%02x" % byte for byte in literal)


def _collect(number: int, start: int, end: int, flags: int, found: list[int]) -> None:
    found.append(number)


def _stop(number: int, start: int, end: int, flags: int, context: object) -> bool:
    return True  # one hit answers "any": stop the scan


# The prefilter's text holds each field value as one section: SEPARATOR tag START value END tag
# SEPARATOR. A literal anchored with START / END (value starts / ends with it, see
# ``detection.modifiers``) is then searched together with its field's tag, so ``\\cmd.exe`` at
# the end of Image is not confused with ``\\cmd.exe`` at the end of ParentImage; plain literals
# are searched anywhere. All of these stay pure literals (no regex), which keeps compiling and
# scanning fast. The rule index tags a field with a short code (``field_code``) rather than its
# name: with the name, the hundreds of anchored literals of a large plan all began or ended with
# the same long run (``\x03image\x00``) and texts were longer; with one-character tags the big
# Sysmon and Security plans scan 2-2.5x faster (measured on the sigma-dev corpus).
SEPARATOR = "\x00"
START = "\x02"
END = "\x03"
MARKS = (SEPARATOR, START, END)
# Tags are written with these sixteen control characters (none a mark, none with a case).
_CODE_BASE = 0x10
_CODE_DIGITS = 16


def field_code(number: int) -> str:
    """The tag of a plan's field number ``number``: one character for the first 16, then more.

    Tags stand between SEPARATOR and START (or END and SEPARATOR), which no tag holds, so tags
    of different lengths are never confused.
    """
    digits = [chr(_CODE_BASE + number % _CODE_DIGITS)]
    while number >= _CODE_DIGITS:
        number = number // _CODE_DIGITS - 1
        digits.append(chr(_CODE_BASE + number % _CODE_DIGITS))
    return "".join(reversed(digits))


def render(tag: str, literal: str) -> str:
    """The text to search for ``literal`` required in the field tagged ``tag`` ("" = any)."""
    if not tag:
        return literal
    if literal.startswith(START):
        literal = f"{SEPARATOR}{tag}{literal}"
    if literal.endswith(END):
        literal = f"{literal}{tag}{SEPARATOR}"
    return literal


def sectioned_text(sections: list[tuple[str, str]]) -> str | None:
    """``(tag, value)`` pairs as one prefilter text (lower-case it afterwards).

    None when a value itself holds a mark: sections could not be told apart, so the caller must
    not rely on the literals for this event.
    """
    text = "".join([section(name) % value for name, value in sections])
    return well_formed(text, len(sections))


def section(tag: str) -> str:
    """A ``%``-template of one field's section (``%s``: the value)."""
    escaped = tag.replace("%", "%%")
    return f"{SEPARATOR}{escaped}{START}%s{END}{escaped}{SEPARATOR}"


def well_formed(text: str, sections: int) -> str | None:
    """``text`` if it holds exactly the marks of ``sections`` sections (no value holds one)."""
    if text.count(START) != sections or text.count(END) != sections:
        return None
    if text.count(SEPARATOR) != 2 * sections:
        return None
    return text


# The only characters whose ``str.lower`` form holds an ASCII character (İ -> i + U+0307, the
# Kelvin sign -> k). Every other character lower-cases to one non-ASCII character, or to an
# ASCII one when it is ASCII itself (tests/detection/test_fast_path.py checks every code point).
FOLDS_TO_ASCII = ("\u0130", "\u212a")
# No character at or above this code point has another lower-case form (checked by the tests).
CASED_BELOW = 0x1F000
# Most spellings of one literal spelled out for scanning non-ASCII text as it is (see below).
MAX_SPELLINGS = 64
_SIGMAS = frozenset("σς")


@functools.cache
def _preimages() -> dict[str, tuple[str, ...]]:
    """Non-ASCII character -> every character ``str.lower`` turns into it, when not only itself."""
    chars = [chr(point) for point in range(0x80, CASED_BELOW)]
    table: dict[str, list[str]] = {}
    for char, low in zip(chars, map(str.lower, chars), strict=True):
        if low != char and len(low) == 1 and not low.isascii():
            table.setdefault(low, [low] if low.lower() == low else []).append(char)
    return {low: tuple(found) for low, found in table.items()}


def spellings(literal: str) -> list[str] | None:
    """Every text whose ``lower()`` is ``literal``, up to ASCII case; None when too many.

    Only for texts without ``FOLDS_TO_ASCII``: there ``lower`` maps character to character, so
    ``literal`` occurs in ``text.lower()`` exactly where a caseless (ASCII-folding) scan of
    ``text`` finds one of these. Empty: the literal can never occur in a lower-cased text.
    """
    if literal.isascii():
        return [literal]
    if _SIGMAS.intersection(literal):  # lower() maps Σ to σ or ς depending on its neighbours
        return None
    table = _preimages()
    options: list[tuple[str, ...]] = []
    count = 1
    for char in literal:
        if char.isascii() or ord(char) >= CASED_BELOW:  # up there no character has a case
            options.append((char,))
        else:
            options.append(table.get(char) or ((char,) if char.lower() == char else ()))
        count *= len(options[-1])
        if count > MAX_SPELLINGS:
            return None
    return ["".join(chars) for chars in itertools.product(*options)]


class LiteralSet:
    """A fixed set of literals compiled once; ``found`` / ``any_in`` per text.

    ``caseless``: the literals (lower-case) are also found in ASCII text of any case, so callers
    may skip lower-casing ASCII text (see ``scan_text``).
    """

    def __init__(self, literals: Sequence[str], *, caseless: bool = False, database: bytes = b""):
        self.literals = tuple(literals)
        self.caseless = caseless
        self._always = "" in self.literals  # the empty string occurs in every text
        self._stable = False  # non-ASCII text may be scanned without lower-casing it
        words = [(number, w) for number, w in enumerate(self.literals) if w]
        self._hs: Any = None
        self._scan: Any = None
        self._ac: Any = None
        if not words:
            return
        if hyperscan is not None and database and not caseless:
            # A database ``dump`` wrote for these literals: loading takes microseconds, a
            # compile about 0.2-5 ms (the compile cache's restart would otherwise pay it).
            self._hs = hyperscan.loadb(database, hyperscan.HS_MODE_BLOCK)
            self._hs.scratch = hyperscan.Scratch(self._hs)
            self._scan = self._hs.scan
        elif hyperscan is not None:
            flags = hyperscan.HS_FLAG_SINGLEMATCH
            if caseless:
                flags |= hyperscan.HS_FLAG_CASELESS
                words = self._spelled(words)
            compiled = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            compiled.compile(
                expressions=[_pattern(w.encode("utf-8")) for _, w in words],
                ids=[number for number, _ in words],
                elements=len(words),
                flags=flags,
            )
            self._hs = compiled
            # Called with positional arguments: the binding matches keyword arguments by name on
            # every call, about 0.25 us of a prefilter scan's 2-3 us.
            self._scan = compiled.scan
        else:  # pragma: no cover - fallback without the hyperscan wheel
            import ahocorasick  # noqa: PLC0415 - fallback without hyperscan

            automaton = ahocorasick.Automaton()
            for number, word in words:
                automaton.add_word(word, number)
            automaton.make_automaton()
            self._ac = automaton

    def dump(self) -> bytes:
        """The compiled database, for ``LiteralSet(literals, database=...)`` (b"": none)."""
        if self._hs is None or self.caseless:
            return b""
        return bytes(hyperscan.dumpb(self._hs))

    def _spelled(self, words: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Each literal with all its spellings (one number); sets ``_stable`` if all have some.

        With every spelling in the automaton, non-ASCII text need not be lower-cased (see
        ``spellings``); hyperscan reports a number once however many of its spellings occur.
        """
        spelled: list[tuple[int, str]] = []
        stable = True
        for number, word in words:
            options = spellings(word)
            if options is None:
                stable = False
                options = [word]
            spelled.extend((number, option) for option in options)
        if not spelled:  # no literal can occur in lower-cased text: scan that, finding none
            return words
        self._stable = stable
        return spelled

    def scan_text(self, text: str) -> str:
        """``text`` as this set must scan it: lower-cased, unless caseless scanning makes that moot.

        ASCII case folding is exactly ``str.lower`` on ASCII text (``isascii`` costs nothing).
        Other text is scanned as it is when every literal is in the automaton with all its
        spellings and the text holds no ``FOLDS_TO_ASCII`` (see ``spellings``); else it is
        lower-cased first. Lower-casing the non-ASCII texts of the big Security plan (most of
        them, about 680 characters) took about 4.5 us each, a third of their scan.
        """
        if self.caseless and self._hs is not None:
            if text.isascii():
                return text
            if self._stable and FOLDS_TO_ASCII[0] not in text and FOLDS_TO_ASCII[1] not in text:
                return text
        return text.lower()

    def found(self, text: str) -> list[int]:
        """Numbers (positions in ``literals``) of the literals that occur in ``text``; unordered."""
        hits: list[int] = []
        if self._scan is not None:
            self._scan(text.encode("utf-8"), _collect, 0, hits)  # data, handler, flags, context
        elif self._ac is not None:  # pragma: no cover - fallback without the hyperscan wheel
            hits = list({number for _, number in self._ac.iter(text)})
        if self._always:
            hits.extend(n for n, w in enumerate(self.literals) if not w)
        return hits

    def any_in(self, text: str) -> bool:
        """Whether at least one literal occurs in ``text`` (stops at the first)."""
        if self._always:
            return True
        if self._scan is not None:
            try:
                self._scan(text.encode("utf-8"), _stop)
            except hyperscan.ScanTerminated:
                return True
            return False
        if self._ac is not None:  # pragma: no cover - fallback without the hyperscan wheel
            return next(self._ac.iter(text), None) is not None
        return False
