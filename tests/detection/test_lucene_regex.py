"""Python regexes rewritten for Lucene: classes, groups, operators, case; the rest refused."""

from __future__ import annotations

import pytest

from detection.lucene_regex import lucene_regex


def test_translates_what_lucene_spells_differently() -> None:
    assert lucene_regex(r"\d{2}\s(?:a|b)") == "[0-9]{2}[ \t\n\r\f\v](a|b)"
    assert lucene_regex(r"x.y") == "x[^\n]y"
    assert lucene_regex(r"x.y", dotall=True) == "x.y"
    assert lucene_regex('a&&b<c>"@#~/') == r"a\&\&b\<c\>\"\@\#\~\/"
    assert lucene_regex(r"[\w-]+?\S") == "[a-zA-Z0-9_-]+[^ \t\n\r\f\v]"
    assert lucene_regex(r"Cmd\.EXE\S", lower=True) == r"cmd\.exe[^ " + "\t\n\r\f\v]"


@pytest.mark.parametrize("pattern", [r"(?=x)", r"\bword", r"[\S]", r"a$b"])
def test_refuses_what_lucene_cannot_say(pattern: str) -> None:
    with pytest.raises(NotImplementedError):
        lucene_regex(pattern)
