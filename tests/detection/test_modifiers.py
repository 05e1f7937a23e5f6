"""One test per value modifier / value form, including the nasty corners."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sigma.types import SigmaCIDRExpression, SigmaRegularExpression

from detection import modifiers
from detection.modifiers import compile_value
from detection.regex_facts import ordered_runs
from tests.detection.conftest import Matcher


def test_plain_value_is_case_insensitive_equality(matches: Matcher) -> None:
    rule = "sel:\n  Image: 'C:\\Windows\\cmd.exe'\ncondition: sel\n"
    events = [{"Image": "c:\\windows\\CMD.EXE"}, {"Image": "c:\\windows\\cmd.exe.bak"}]
    assert matches(rule, events) == [0]


def test_contains_startswith_endswith(matches: Matcher) -> None:
    rule = """
    sel:
      CommandLine|contains: 'Invoke-'
      Image|endswith: '\\powershell.exe'
      ParentImage|startswith: 'C:\\Program Files'
    condition: sel
    """
    good = {
        "CommandLine": "x invoke-mimikatz",
        "Image": "C:\\x\\PowerShell.exe",
        "ParentImage": "c:\\program files\\a.exe",
    }
    assert matches(rule, [good, {**good, "Image": "C:\\pwsh.exe"}]) == [0]


def test_contains_all(matches: Matcher) -> None:
    rule = "sel:\n  CommandLine|contains|all: ['-nop', '-w hidden']\ncondition: sel\n"
    events = [{"CommandLine": "ps -NOP -W Hidden"}, {"CommandLine": "ps -nop"}]
    assert matches(rule, events) == [0]


def test_wildcards_and_escapes(matches: Matcher) -> None:
    rule = r"""
    sel_star:
      A: 'a*c'
    sel_single:
      B: 'x?z'
    sel_escaped:
      C: 'lit\*eral\?'
    condition: 1 of sel_*
    """
    events = [
        {"A": "abbbc"},
        {"B": "xyz"},
        {"B": "xyyz"},
        {"C": "lit*eral?"},
        {"C": "litXeralY"},
    ]
    assert matches(rule, events) == [0, 1, 3]


def test_escaped_backslash_before_wildcard(matches: Matcher) -> None:
    rule = "sel:\n  Path: 'C:\\\\temp\\\\*'\ncondition: sel\n"
    assert matches(rule, [{"Path": "C:\\temp\\x.exe"}, {"Path": "C:\\tempx"}]) == [0]


def test_re_anchors_and_case(matches: Matcher) -> None:
    rule = "sel:\n  CommandLine|re: '^cmd\\.exe /c [a-z]+$'\ncondition: sel\n"
    events = [
        {"CommandLine": "cmd.exe /c whoami"},
        {"CommandLine": "x cmd.exe /c whoami"},
        {"CommandLine": "CMD.EXE /c whoami"},  # |re is case-sensitive without |i
    ]
    assert matches(rule, events) == [0]


def test_re_flags(matches: Matcher) -> None:
    rule = "sel:\n  CommandLine|re|i|m: '^whoami$'\ncondition: sel\n"
    assert matches(rule, [{"CommandLine": "echo\nWHOAMI"}, {"CommandLine": "whoami x"}]) == [0]
    rule_s = "sel:\n  CommandLine|re|s: 'a.b'\ncondition: sel\n"
    assert matches(rule_s, [{"CommandLine": "a\nb"}]) == [0]


def test_cidr_ipv4_and_ipv6(matches: Matcher) -> None:
    rule = "sel:\n  DestinationIp|cidr: ['10.0.0.0/8', 'fe80::/10']\ncondition: sel\n"
    events = [
        {"DestinationIp": "10.1.2.3"},
        {"DestinationIp": "11.1.2.3"},
        {"DestinationIp": "FE80::1"},
        {"DestinationIp": "2001:db8::1"},
        {"DestinationIp": "not an ip"},
    ]
    assert matches(rule, events) == [0, 2]


def test_cidr_answers_stay_the_same_when_remembered_and_when_the_memo_starts_over(
    monkeypatch: pytest.MonkeyPatch, matches: Matcher
) -> None:
    monkeypatch.setattr(modifiers, "CIDR_MEMO", 3)
    one = "sel:\n  DestinationIp|cidr: '10.0.0.0/8'\ncondition: sel\n"
    many = "sel:\n  DestinationIp|cidr: ['10.0.0.0/8', 'fe80::/10']\ncondition: sel\n"
    addresses = ["10.1.2.3", "11.1.2.3", "FE80::1", "x", "10.9.9.9", "11.1.2.3", "10.1.2.3"] * 3
    events = [{"DestinationIp": address} for address in addresses]
    expected_one = [n for n, a in enumerate(addresses) if a.startswith("10.")]
    expected_many = [n for n, a in enumerate(addresses) if a.startswith(("10.", "FE80"))]
    assert matches(one, events) == expected_one
    assert matches(many, events) == expected_many
    test = compile_value(SigmaCIDRExpression("10.0.0.0/8")).test
    assert [test(a.lower(), a) for a in addresses] == [a.startswith("10.") for a in addresses]


def test_base64_and_base64offset_contains(matches: Matcher) -> None:
    rule = "sel:\n  CommandLine|base64offset|contains: 'http://'\ncondition: sel\n"
    events = [
        {"CommandLine": base64.b64encode(prefix + b"http://evil").decode()}
        for prefix in (b"", b"a", b"ab")
    ] + [{"CommandLine": base64.b64encode(b"nothing here").decode()}]
    assert matches(rule, events) == [0, 1, 2]
    plain = "sel:\n  CommandLine|base64: 'whoami'\ncondition: sel\n"
    assert matches(plain, [{"CommandLine": base64.b64encode(b"whoami").decode()}]) == [0]


def test_utf16_base64offset_contains(matches: Matcher) -> None:
    # pySigma 1.5 names UTF-16LE `wide` (its `utf16le` alias arrived later; see next test).
    rule = "sel:\n  CommandLine|utf16be|base64offset|contains: 'Invoke'\ncondition: sel\n"
    encoded = base64.b64encode("x Invoke-Expression".encode("utf-16-be")).decode()
    assert matches(rule, [{"CommandLine": f"powershell -enc {encoded}"}]) == [0]
    wide = "sel:\n  CommandLine|wide|base64offset|contains: 'ping'\ncondition: sel\n"
    encoded = base64.b64encode("ping 1.2.3.4".encode("utf-16-le")).decode()
    assert matches(wide, [{"CommandLine": encoded}]) == [0]


def test_unknown_modifier_is_a_load_problem(ruleset) -> None:  # type: ignore[no-untyped-def]
    rules = ruleset("sel:\n  CommandLine|utf16le|base64offset|contains: 'x'\ncondition: sel\n")
    assert not rules.runnable
    [problem] = rules.problems
    assert problem.field == "detection" and "utf16le" in problem.message
    assert problem.item == "11111111-2222-3333-4444-555555555555" and problem.line == 6


def test_time_part_modifier_is_skipped_with_reason(ruleset) -> None:  # type: ignore[no-untyped-def]
    rules = ruleset("sel:\n  UtcTime|hour: 3\ncondition: sel\n")
    assert not rules.runnable and "time-part" in rules.skipped[0].reason


def test_neq(matches: Matcher) -> None:
    rule = "sel:\n  A: 'x'\n  B|neq: 'foo'\ncondition: sel\n"
    assert matches(rule, [{"A": "x", "B": "FOO"}, {"A": "x", "B": "bar"}]) == [1]


def test_windash(matches: Matcher) -> None:
    rule = "sel:\n  CommandLine|windash|contains: ' -exec '\ncondition: sel\n"
    events = [
        {"CommandLine": "psexec -exec x"},
        {"CommandLine": "psexec /exec x"},
        {"CommandLine": "psexec \u2013exec x"},
        {"CommandLine": "psexec exec x"},
    ]
    assert matches(rule, events) == [0, 1, 2]


def test_null_matches_absent_or_null(matches: Matcher) -> None:
    rule = "sel:\n  Image: 'x'\n  User: null\ncondition: sel\n"
    events = [{"Image": "x"}, {"Image": "x", "User": None}, {"Image": "x", "User": "bob"}]
    assert matches(rule, events) == [0, 1]


def test_exists_true_and_false(matches: Matcher) -> None:
    yes = "sel:\n  User|exists: true\ncondition: sel\n"
    no = "sel:\n  User|exists: false\ncondition: sel\n"
    events = [{"User": "bob"}, {"Other": 1}]
    assert matches(yes, events) == [0]
    assert matches(no, events) == [1]


def test_fieldref(matches: Matcher) -> None:
    rule = "sel:\n  SourceUser|fieldref: TargetUser\ncondition: sel\n"
    events = [
        {"SourceUser": "Bob", "TargetUser": "bob"},
        {"SourceUser": "bob", "TargetUser": "alice"},
        {"SourceUser": "bob"},
    ]
    assert matches(rule, events) == [0]


def test_numeric_comparisons(matches: Matcher) -> None:
    lt = "sel:\n  Count|lt: 10\ncondition: sel\n"
    gte = "sel:\n  Count|gte: 10\ncondition: sel\n"
    events = [{"Count": 9}, {"Count": "10"}, {"Count": 11.5}, {"Count": "many"}]
    assert matches(lt, events) == [0]
    assert matches(gte, events) == [1, 2]


def test_number_matches_int_and_string(matches: Matcher) -> None:
    rule = "sel:\n  EventID: 4688\ncondition: sel\n"
    events = [{"EventID": 4688}, {"EventID": "4688"}, {"EventID": 46880}]
    assert matches(rule, events) == [0, 1]


def test_cased(matches: Matcher) -> None:
    rule = "sel:\n  CommandLine|cased|contains: 'SeDebug'\ncondition: sel\n"
    assert matches(rule, [{"CommandLine": "x SeDebug"}, {"CommandLine": "x sedebug"}]) == [0]


def test_expand_with_placeholders(matches: Matcher) -> None:
    rule = "sel:\n  User|expand: '%admins%'\ncondition: sel\n"
    events = [{"User": "root"}, {"User": "Administrator"}, {"User": "bob"}]
    placeholders = {"admins": ["root", "administrator"]}
    assert matches(rule, events, placeholders=placeholders) == [0, 1]


def test_expand_without_value_skips_rule(ruleset) -> None:  # type: ignore[no-untyped-def]
    rules = ruleset("sel:\n  User|expand: '%admins%'\ncondition: sel\n")
    assert not rules.runnable
    assert "admins" in rules.skipped[0].reason


def test_keywords_search_all_values(matches: Matcher) -> None:
    # A keyword is unbound: it matches anywhere inside any value (inner wildcards still apply).
    rule = "keywords:\n  - 'mimikatz'\n  - 'lsa::*pass'\ncondition: keywords\n"
    events = [
        {"a": "run MIMIKATZ now"},
        {"b": "sekurlsa::logonpasswords"},
        {"c": "lsa:: nothing"},
        {"d": 5},
    ]
    assert matches(rule, events) == [0, 1]


def test_field_names_are_case_insensitive_and_nested(matches: Matcher) -> None:
    rule = "sel:\n  commandline|contains: 'x'\n  process.name: 'a'\ncondition: sel\n"
    events = [{"CommandLine": "xx", "process": {"name": "A"}}, {"CommandLine": "xx"}]
    assert matches(rule, events) == [0]


def test_list_values_in_events_match_any_element(matches: Matcher) -> None:
    rule = "sel:\n  tags: 'b'\ncondition: sel\n"
    assert matches(rule, [{"tags": ["a", "B"]}, {"tags": ["a"]}]) == [0]


@given(
    runs=st.lists(st.sampled_from(["+", "ab", "{", "a+b", "\\"]), min_size=1, max_size=4),
    lazy=st.booleans(),
    text=st.text(alphabet="+ab{\\\n\r x", max_size=40),
)
def test_ordered_runs_agree_with_re_search(runs: list[str], lazy: bool, text: str) -> None:
    """The linear ``a.*b.*c`` check must answer exactly like Python's backtracking search."""
    gap = ".*?" if lazy else ".*"
    pattern = gap.join(re.escape(run) for run in runs) + (gap if len(runs) == 1 else "")
    found = ordered_runs(pattern)
    assert found is not None
    expected = re.search(pattern, text) is not None
    assert (compile_value(SigmaRegularExpression(pattern)).test(text.lower(), text)) is expected


def test_ordered_runs_only_for_plain_gap_patterns() -> None:
    assert ordered_runs(r"\+.*\+.*\+") == ("+", "+", "+")
    assert ordered_runs("a.*b") == ("a", "b")
    for other in ("abc", "(?s)a.*b", "a.+b", "a.*\\nb", "a[bc].*d", "^a.*b", "a.{0,5}b"):
        assert ordered_runs(other) is None, other
