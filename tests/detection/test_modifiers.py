"""One test per value modifier / value form, including the nasty corners."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaTypeError
from sigma.rule import SigmaDetectionItem, SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaRegularExpression,
    SigmaTimestampPart,
    TimestampPart,
)

from detection import timeparts, typed_values
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
    monkeypatch.setattr(typed_values, "CIDR_MEMO", 3)
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


# One moment in many spellings: Tuesday 2026-03-31 03:07:59 UTC (ISO week 14).
MOMENT = [
    "2026-03-31T03:07:59Z",
    "2026-03-31 03:07:59.1234567",  # Windows UtcTime: no zone, seven fraction digits
    "2026-03-31t03:07:59z",  # the lower-cased spelling some shippers write
    "20260331T030759Z",  # ISO 8601 basic format
    "2026-03-31T05:07:59+02:00",  # CEST offset: converted to UTC
    1774926479,  # epoch seconds
    1774926479123,  # epoch milliseconds
    1774926479.5,
]


@pytest.mark.parametrize(
    ("modifier", "value"),
    [("minute", 7), ("hour", 3), ("day", 31), ("week", 14), ("month", 3), ("year", 2026)],
)
def test_time_part_modifiers_read_every_timestamp_spelling_in_utc(
    matches: Matcher, modifier: str, value: int
) -> None:
    rule = f"sel:\n  EventTime|{modifier}: {value}\ncondition: sel\n"
    assert matches(rule, [{"EventTime": m} for m in MOMENT]) == list(range(len(MOMENT)))
    other = f"sel:\n  EventTime|{modifier}: {value + 1}\ncondition: sel\n"
    assert matches(other, [{"EventTime": m} for m in MOMENT]) == []


def test_time_part_parses_as_pysigma_models_it() -> None:
    text = (
        "title: t\nlogsource: {product: windows}\ndetection:\n  sel:\n"
        "    A|hour: 3\n    B|week|gte: 50\n  condition: sel\n"
    )
    [rule] = SigmaCollection.from_yaml(text).rules
    assert isinstance(rule, SigmaRule)
    plain, compared = rule.detection.detections["sel"].detection_items
    assert isinstance(plain, SigmaDetectionItem) and isinstance(compared, SigmaDetectionItem)
    [part] = plain.value
    assert isinstance(part, SigmaTimestampPart)
    assert (part.timestamp_part, part.number) == (TimestampPart.HOUR, 3)
    [comparison] = compared.value
    assert isinstance(comparison, SigmaCompareExpression)
    assert comparison.op is CompareOperators.GTE
    assert isinstance(comparison.number, SigmaTimestampPart)
    assert comparison.number.timestamp_part is TimestampPart.WEEK
    # The comparison must follow the part: pySigma refuses ``|gte|hour`` at load time.
    reversed_order = text.replace("B|week|gte", "B|gte|week")
    with pytest.raises(SigmaTypeError, match="incompatible"):
        SigmaCollection.from_yaml(reversed_order)


def test_time_part_with_comparison_matches_office_hours(matches: Matcher) -> None:
    night = """
    sel:
      EventTime|hour|gte: 8
    office:
      EventTime|hour|lt: 18
    condition: not (sel and office)
    """
    events = [
        {"EventTime": "2026-05-04T07:59:59Z"},
        {"EventTime": "2026-05-04T08:00:00Z"},
        {"EventTime": "2026-05-04T17:59:59Z"},
        {"EventTime": "2026-05-04T18:00:00Z"},
        {"EventTime": "2026-05-04T19:30:00+02:00"},  # 17:30 UTC: office hours in UTC
    ]
    assert matches(night, events) == [0, 3]
    lte_gt = "sel:\n  T|minute|lte: 15\n  U|month|gt: 10\ncondition: sel\n"
    both = {"T": "2026-05-04T10:15:00Z", "U": "2026-11-01T00:00:00Z"}
    assert matches(lte_gt, [both, {**both, "T": "2026-05-04T10:16:00Z"}]) == [0]


def test_time_part_neq_and_value_lists(matches: Matcher) -> None:
    weekend_hours = "sel:\n  T|hour: [0, 1, 2]\ncondition: sel\n"
    events = [
        {"T": "2026-05-04T00:10:00Z"},
        {"T": "2026-05-04T02:59:00Z"},
        {"T": "2026-05-04T03:00Z"},
    ]
    assert matches(weekend_hours, events) == [0, 1]
    neq = "sel:\n  T|hour|neq: 3\n  A: x\ncondition: sel\n"
    assert matches(neq, [{"A": "x", **e} for e in events]) == [0, 1]


def test_iso_week_numbers_at_the_turn_of_the_year(matches: Matcher) -> None:
    rule = "sel:\n  T|week: {week}\ncondition: sel\n"
    events = [
        {"T": "2027-01-01T12:00:00Z"},  # Friday: ISO week 53 of 2026
        {"T": "2026-12-28T12:00:00Z"},  # Monday of ISO week 53
        {"T": "2025-12-29T12:00:00Z"},  # Monday: ISO week 1 of 2026
    ]
    assert matches(rule.format(week=53), events) == [0, 1]
    assert matches(rule.format(week=1), events) == [2]
    # ``year`` is the calendar year, not the ISO week-numbering year.
    assert matches("sel:\n  T|year: 2027\ncondition: sel\n", events) == [0]


def test_unparseable_or_missing_timestamps_do_not_match(matches: Matcher) -> None:
    rule = "sel:\n  T|hour: 0\ncondition: sel\n"
    events = [
        {"T": "yesterday"},
        {"T": ""},
        {"T": True},  # not epoch second 1
        {"T": False},
        {"T": None},
        {"T": 10**30},  # beyond datetime's range
        {"T": float("nan")},
        {"T": "9999-12-31T23:30:00-05:00"},  # past year 9999 once in UTC
        {"Other": "2026-05-04T00:00:00Z"},
        {"T": "2026-05-04T00:00:00Z"},
    ]
    assert matches(rule, events) == [9]
    compared = "sel:\n  T|hour|lt: 5\ncondition: sel\n"
    assert matches(compared, events) == [9]


def test_time_part_of_a_datetime_value() -> None:
    test = compile_value(SigmaTimestampPart(TimestampPart.HOUR, 3)).test
    assert test("", datetime(2026, 5, 4, 3, 0, tzinfo=UTC))
    assert test("", datetime(2026, 5, 4, 3, 0))  # naive: taken as UTC
    assert test("", datetime(2026, 5, 4, 4, 0, tzinfo=timezone(timedelta(hours=1))))
    assert not test("", datetime(2026, 5, 4, 4, 0, tzinfo=UTC))


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


def test_documented_night_logon_example(matches: Matcher) -> None:
    """The worked example in docs/detection-engine.md, as written there."""
    rule = """
    selection:
      event.action: logon
      service.name: basisregistratie
    night_early:
      '@timestamp|hour|lt': 6
    night_late:
      '@timestamp|hour|gte': 22
    condition: selection and 1 of night_*
    """
    logon = {"event": {"action": "logon"}, "service": {"name": "basisregistratie"}}
    times = ["2026-05-04T05:59:59Z", "2026-05-04T23:30:00+01:00", "2026-05-04T06:00:00Z", "unknown"]
    assert matches(rule, [{**logon, "@timestamp": t} for t in times]) == [0, 1]


@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31)),
    st.integers(-14 * 60, 14 * 60),
    st.sampled_from(["T", " "]),
)
def test_time_parts_of_any_offset_timestamp_are_its_utc_parts(
    moment: datetime, offset_minutes: int, separator: str
) -> None:
    utc = moment.replace(tzinfo=UTC)
    local = utc.astimezone(timezone(timedelta(minutes=offset_minutes)))
    want = (utc.minute, utc.hour, utc.day, utc.isocalendar().week, utc.month, utc.year)
    assert timeparts.parts(local.isoformat(sep=separator)) == want
    assert timeparts.parts(utc.replace(tzinfo=None).isoformat()) == want  # no offset: UTC
    if utc.year < 5138:  # later epoch seconds pass 1e11 and are read as milliseconds
        assert timeparts.parts(utc.replace(microsecond=0).timestamp()) == want
