"""Python (Sigma) regular expressions rewritten for Lucene's RegExp, or refused.

Lucene's dialect differs: no ``\\d``/``\\s``/``\\w`` classes, no ``(?:``, ``&``, ``<``, ``>``,
``~``, ``@``, ``#`` and ``"`` are operators, ``\\t`` is a plain ``t``, ``.`` also matches a
newline, and lazy quantifiers mean something else. Each construct is translated to what Python
means by it; anything without an equivalent raises ``NotImplementedError`` so the rule is
reported as not expressible rather than silently matching differently.
"""

from __future__ import annotations

_SPACE = " \t\n\r\f\v"
_CLASSES = {"d": "0-9", "w": "a-zA-Z0-9_", "s": _SPACE}
_OPERATORS = set('&<>~@#"/')
_CONTROL = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "v": "\v"}


def lucene_regex(pattern: str, *, lower: bool = False, dotall: bool = False) -> str:
    """The Lucene form of ``pattern`` (unanchored parts are the caller's business).

    ``lower`` lower-cases literal letters, for searching a lower-cased (normalised) field.
    """
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 >= len(pattern):
                raise NotImplementedError("regex ends with a backslash")
            out.append(_escape(pattern[i + 1], in_class=in_class, lower=lower))
            i += 2
            continue
        if in_class:
            if char == "]" and not _class_start(out):
                in_class = False
            out.append(_literal(char, lower) if char in _OPERATORS else _case(char, lower))
        elif char == "[":
            in_class = True
            out.append(char)
            if pattern.startswith("^", i + 1):
                out.append("^")
                i += 1
        elif char == "(" and pattern.startswith("(?", i):
            if not pattern.startswith("(?:", i):
                raise NotImplementedError(f"regex group {pattern[i : i + 4]!r} (Lucene has none)")
            out.append("(")
            i += 3
            continue
        elif char in "*+?}" and pattern.startswith("?", i + 1):
            out.append(char)  # lazy quantifier: same matches for a yes/no search
            i += 2
            continue
        elif char == ".":
            out.append("." if dotall else "[^\n]")
        elif char in "^$":
            raise NotImplementedError("regex anchor inside the pattern")
        elif char in _OPERATORS:
            out.append(_literal(char, lower))
        else:
            out.append(_case(char, lower))
        i += 1
    return "".join(out)


def _class_start(out: list[str]) -> bool:
    """A ``]`` right after ``[`` or ``[^`` is a literal, as in Python."""
    return bool(out) and (out[-1] == "[" or (out[-1] == "^" and len(out) > 1 and out[-2] == "["))


def _case(char: str, lower: bool) -> str:
    return char.lower() if lower else char


def _literal(char: str, lower: bool) -> str:
    return "\\" + _case(char, lower)


def _escape(char: str, *, in_class: bool, lower: bool) -> str:
    """One ``\\x`` sequence of Python's dialect in Lucene's."""
    if char in _CLASSES:
        members = _CLASSES[char]
        return members if in_class else f"[{members}]"
    if char.lower() in _CLASSES:  # \\D \\W \\S
        if in_class:
            raise NotImplementedError(f"negated class \\{char} inside [...]")
        return f"[^{_CLASSES[char.lower()]}]"
    if char in _CONTROL:
        return _CONTROL[char]
    if char.isalnum():
        raise NotImplementedError(f"regex escape \\{char} (Lucene has none)")
    return _literal(char, lower)
