"""The indexed fast path must find exactly what brute force finds: the prefilter may only prune.

``Engine.match_batch`` (key-layout cache, Channel/EventID plans, literal prefilter, lazy views) is
compared with ``Engine.match_batch_reference`` (every compiled rule on every event, no index) on
the sigma-dev corpus and on Hypothesis-generated events built from the rules' own literals, in
mixed case, with escapes, marks, lists, nested objects, colliding keys and numbers as strings.
"""

from __future__ import annotations

import string
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detection.engine import Engine, distinct
from detection.literals import (
    CASED_BELOW,
    END,
    FOLDS_TO_ASCII,
    MARKS,
    START,
    LiteralSet,
    field_code,
    render,
    section,
    sectioned_text,
    spellings,
)
from detection.service import RuleSet, load_rules
from tests.conftest import CORPUS_DIR

CORPUS = CORPUS_DIR / "sigma-dev"
STACKS = ("sysmon+windows-logsources", "windows-audit+windows-logsources")

RULES = {
    "endswith.yml": """
title: Ends
id: 00000000-0000-0000-0000-000000000001
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: ['\\cmd.exe', '\\power"shell.exe']
  filter:
    ParentImage|startswith: 'C:\\Windows\\'
  condition: sel and not filter
""",
    "keywords.yml": """
title: Keywords
id: 00000000-0000-0000-0000-000000000002
logsource: {product: windows, service: security}
detection:
  keywords:
    - 'mimikatz'
    - 'sekurlsa::'
  condition: keywords
""",
    "equals.yml": """
title: Equals
id: 00000000-0000-0000-0000-000000000003
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4624
    LogonType: 3
    TargetUserName|cased: 'Admin'
  sel2:
    IpAddress|re: '^10\\.0\\.'
  condition: sel and sel2
""",
    "contains.yml": """
title: Contains
id: 00000000-0000-0000-0000-000000000004
logsource: {product: windows, category: process_creation}
detection:
  sel:
    CommandLine|contains|all: ['-enc', 'bypass']
  sel_many:
    CommandLine|contains: ['iex', 'downloadstring', 'net.webclient', 'frombase64', 'ΣΑΣ']
  condition: sel or sel_many
""",
    "exists.yml": """
title: Exists
id: 00000000-0000-0000-0000-000000000005
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Hashes|contains: 'IMPHASH='
    Details: null
  condition: sel
""",
}


def pairs(hits: Sequence[Any]) -> list[tuple[int, int, str]]:
    return [(hit.event_index, hit.rule_number, hit.compiled.stack) for hit in hits]


def assert_same(engine: Engine, events: list[dict[str, Any]]) -> None:
    fast = engine.match_batch(events)
    slow = engine.match_batch_reference(events)
    assert pairs(fast) == pairs(slow)


@pytest.fixture(scope="module")
def small_rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    folder = tmp_path_factory.mktemp("rules")
    for name, text in RULES.items():
        (folder / name).write_text(text, encoding="utf-8")
    ruleset = load_rules(paths=[folder], stacks=("none", *STACKS))
    assert not ruleset.problems, ruleset.problems
    return ruleset


@pytest.fixture(scope="module")
def corpus_rules() -> RuleSet:
    if not (CORPUS / "rules").is_dir():
        pytest.skip(f"sigma-dev corpus not found at {CORPUS}")
    return load_rules(paths=[CORPUS / "rules"], stacks=STACKS)


def rule_vocabulary(engine: Engine) -> tuple[list[str], list[str], list[str], list[str]]:
    """Field names, literal texts, channels and event ids the compiled rules care about."""
    fields: set[str] = {"Image", "CommandLine", "ParentImage", "TargetUserName", "Details"}
    texts: set[str] = set()
    channels: set[str] = set()
    ids: set[str] = set()
    for rule in engine.compiled:
        for clause in rule.node.clauses:
            for field, text in clause:
                if field and "." not in field:
                    fields.add(field)
                texts.add(text.strip("".join(MARKS)))
        channels.update(rule.node.equals.get("channel", ()))
        ids.update(rule.node.equals.get("eventid", ()))
    return sorted(fields), sorted(t for t in texts if t), sorted(channels), sorted(ids)


def mixed_case(draw: Callable[..., Any], text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=True))


@st.composite
def events_for(draw: Callable[..., Any], vocabulary: tuple[list[str], ...]) -> dict[str, Any]:
    fields, texts, channels, ids = vocabulary
    noise = st.text(alphabet=string.printable + "\\\"'ΣσİK\u212a\x00\x02\x03é", max_size=6)
    event: dict[str, Any] = {}
    if channels and draw(st.integers(0, 9)):
        event[draw(st.sampled_from(["Channel", "channel", "CHANNEL"]))] = mixed_case(
            draw, draw(st.sampled_from(channels))
        )
    if ids and draw(st.integers(0, 9)):
        number = draw(st.sampled_from(ids))
        event["EventID"] = int(number) if number.isdigit() and draw(st.booleans()) else number

    def value() -> Any:
        choice = draw(st.integers(0, 9))
        if choice == 0:
            return draw(st.integers(-5, 5000))
        if choice == 1:
            return str(draw(st.integers(0, 5000)))
        if choice == 2:
            return draw(st.lists(st.sampled_from(texts), max_size=3))
        if choice == 3:
            return None
        pieces = draw(st.lists(st.sampled_from(texts), min_size=1, max_size=3))
        return draw(noise) + "".join(mixed_case(draw, p) + draw(noise) for p in pieces)

    for _ in range(draw(st.integers(1, 6))):
        name = mixed_case(draw, draw(st.sampled_from(fields)))
        event[name] = value()
    if draw(st.integers(0, 7)) == 0:
        event["Nested"] = {"Inner": value()}
    return event


def test_small_rules_fast_path_equals_brute_force_on_edge_cases(small_rules: RuleSet) -> None:
    events: list[dict[str, Any]] = [
        {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": "C:\\CMD.exe"},
        {
            "Channel": "Security",
            "EventID": "4624",
            "LogonType": 3,
            "TargetUserName": "Admin",
            "IpAddress": "10.0.0.1",
        },
        {
            "Channel": "Security",
            "EventID": 4624,
            "LogonType": "3",
            "targetusername": "admin",
            "IpAddress": "10.0.0.1",
        },
        {"Channel": "security", "EventID": 4688, "CommandLine": "x -ENC y BYPASS"},
        {"Channel": "Security", "EventID": 4688, "CommandLine": "a\x00b iex"},
        {"Channel": "Security", "EventID": 4688, "CommandLine": "-enc\x03commandline\x00bypass"},
        {"Channel": "Sysmon", "EventID": 1, "Image": "\x02C:\\cmd.exe", "CommandLine": "\x03"},
        {"Channel": "Security", "EventID": 4688, "CommandLine": ["nothing", "IEX (x)"]},
        {"Channel": "Security", "EventID": 4688, "Process": {"CommandLine": "iex"}},
        {"Channel": "Security", "Payload": "Sekurlsa::logonpasswords", "payload": "x"},
        {"Channel": "Security", "EventID": 4688, "CommandLine": "σας"},
        {"Channel": "Security", "EventID": 4688, "Hashes": "IMPHASH=AB", "Details": None},
        {"Channel": None, "EventID": [1, 4624], "Image": "c:\\cmd.exe"},
    ]
    assert_same(small_rules.engine, events)


def test_repeated_prefilter_text_in_a_batch_still_evaluates_each_event(
    small_rules: RuleSet,
) -> None:
    """The per-batch prefilter memo only answers "which rules to try", never "which matched"."""
    base = {"Channel": "Security", "EventID": 4688, "Hashes": "IMPHASH=AB"}
    events = [{**base, "Details": "x"}, dict(base), {**base, "Details": None}, dict(base)]
    hits = small_rules.engine.match_batch(events, start=10)
    assert [hit.event_index for hit in hits if hit.compiled.stack == "none"] == [11, 12, 13]
    assert_same(small_rules.engine, events)
    # Equal as dictionary keys, different as text: the memo must not confuse them.
    logon = {"Channel": "Security", "EventID": 4624, "LogonType": 3, "IpAddress": "10.0.0.1"}
    names: list[Any] = [1, 1.0, True, "1", "true", "True", 1, True]
    assert_same(small_rules.engine, [{**logon, "TargetUserName": name} for name in names])


def test_identical_stack_variants_are_indexed_once(small_rules: RuleSet) -> None:
    """A variant with the image of an earlier one of its rule is left out; the others stay."""
    engine = small_rules.engine
    kept = set(distinct(engine.compiled, engine.rule_numbers))
    dropped = [p for p in range(len(engine.compiled)) if p not in kept]
    assert dropped, "three stacks that agree on the security rules must repeat some variants"
    for position in dropped:
        rule = engine.compiled[position]
        assert any(
            engine.rule_numbers[earlier] == engine.rule_numbers[position]
            and engine.compiled[earlier].image == rule.image
            for earlier in kept
            if earlier < position
        )
    # Image|endswith under sysmon and under windows-audit (NewProcessName) differ: both stay.
    ends = [
        p for p, rule in enumerate(engine.compiled) if rule.title == "Ends" and rule.stack != "none"
    ]
    assert len(ends) == 2 and set(ends) <= kept
    indexed = {p for plan_positions in engine.index._buckets.values() for p in plan_positions}
    assert indexed == kept


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_small_rules_fast_path_equals_brute_force(
    small_rules: RuleSet, data: st.DataObject
) -> None:
    vocabulary = rule_vocabulary(small_rules.engine)
    events = data.draw(st.lists(events_for(vocabulary), min_size=1, max_size=5))
    assert_same(small_rules.engine, events)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_corpus_rules_fast_path_equals_brute_force(
    corpus_rules: RuleSet, data: st.DataObject
) -> None:
    vocabulary = rule_vocabulary(corpus_rules.engine)
    events = data.draw(st.lists(events_for(vocabulary), min_size=1, max_size=3))
    assert_same(corpus_rules.engine, events)


def test_corpus_events_fast_path_equals_brute_force(corpus_rules: RuleSet) -> None:
    """Every 9th corpus event plus every event some rule matches, against brute force."""
    lines = (CORPUS / "events.jsonl").read_bytes().splitlines()
    events = [orjson.loads(line) for line in lines]
    matched = {hit.event_index for hit in corpus_rules.engine.match_batch(events)}
    sample = [event for number, event in enumerate(events) if number % 9 == 0 or number in matched]
    assert_same(corpus_rules.engine, sample)


@settings(max_examples=300, deadline=None)
@given(
    literals=st.lists(
        st.text(min_size=0, max_size=4, alphabet='ab\\"Σé\x00'), min_size=1, max_size=8
    ),
    text=st.text(max_size=40, alphabet='abAB\\"Σσé\x00 '),
)
def test_literal_set_agrees_with_in(literals: list[str], text: str) -> None:
    found = set(LiteralSet(literals).found(text))
    assert found == {number for number, literal in enumerate(literals) if literal in text}
    assert LiteralSet(literals).any_in(text) == any(literal in text for literal in literals)


def test_sectioned_text_refuses_values_holding_marks() -> None:
    assert (
        sectioned_text([("image", "c:\\cmd.exe")]) == f"\x00image{START}c:\\cmd.exe{END}image\x00"
    )
    for mark in MARKS:
        assert sectioned_text([("image", f"a{mark}b")]) is None


def test_layouts_differing_only_in_key_case_do_not_share_a_route(
    corpus_rules: RuleSet,
) -> None:
    """Found by Hypothesis: the second layout's route read the first layout's keys."""
    events = [
        {"Channel": "Security", "EventID": 4698, "TaskName": "\\x", "TaskContent": "a"},
        {"Channel": "Security", "EventID": 4698, "taskname": "\\x", "taskcontent": "b"},
        {"Channel": "Security", "EventID": 4698, "tasknamE": "\\x", "TASKCONTENT": "c"},
    ]
    assert_same(corpus_rules.engine, events)


def test_field_codes_are_distinct_short_and_never_confused() -> None:
    codes = [field_code(number) for number in range(2000)]
    assert len(set(codes)) == len(codes)
    assert all(len(code) == 1 for code in codes[:16])
    assert not any(mark in code for code in codes for mark in MARKS)
    assert all(code.isascii() and code.lower() == code for code in codes)
    # A literal anchored in field 0 is not found in the section of field 16 ("\x10\x10").
    for first, other in ((0, 16), (16, 0), (1, 17), (17, 273)):
        text = section(field_code(other)) % "cmd.exe"
        assert render(field_code(first), f"{START}cmd") not in text
        assert render(field_code(first), f"exe{END}") not in text
        assert render(field_code(other), f"{START}cmd") in text
        assert render(field_code(other), f"exe{END}") in text


@settings(max_examples=300, deadline=None)
@given(
    pattern=st.sampled_from(
        [r"\+.*\+.*\+", r"ab.*ab", r"a(b)a", r"`.*`.*`", r"(?=aa)a.a", r"a+b.*a+b", r"x|xx.*xx"]
    ),
    text=st.text(alphabet="ab+`x\n", max_size=30),
)
def test_required_counts_never_reject_a_match(pattern: str, text: str) -> None:
    import re

    from detection.regex_facts import required_counts

    if re.search(pattern, text):
        assert all(text.count(run) >= times for run, times in required_counts(pattern))


def _finds_what_lower_case_text_holds(literals: list[str], text: str) -> None:
    literals = [literal.lower() for literal in literals]
    automaton = LiteralSet(literals, caseless=True)
    found = set(automaton.found(automaton.scan_text(text)))
    assert found == {number for number, literal in enumerate(literals) if literal in text.lower()}


@settings(max_examples=300, deadline=None)
@given(
    literals=st.lists(st.text(min_size=1, max_size=4, alphabet="ab\\Σσé\x00"), max_size=8),
    text=st.text(max_size=40, alphabet="abAB\\ΣσéÉK\u212a\x00 "),
)
def test_caseless_literal_set_finds_what_lower_case_text_holds(
    literals: list[str], text: str
) -> None:
    """Caseless scanning may skip ``lower`` on ASCII text only; the answer must not change."""
    _finds_what_lower_case_text_holds(literals, text)


@settings(max_examples=500, deadline=None)
@given(
    literals=st.lists(
        st.text(min_size=1, max_size=4, alphabet="ab\\→中😀éàÀσςω\u0307kß\x00"), max_size=8
    ),
    text=st.text(max_size=40, alphabet="abAB\\→中😀éÉàÀΣσςİ\u0307kK\u212aßẞΩω\u2126\x00 "),
)
def test_caseless_scan_of_non_ascii_text_finds_what_lower_case_text_holds(
    literals: list[str], text: str
) -> None:
    """Non-ASCII text scanned as it is, against every spelling of the literals: same answer."""
    _finds_what_lower_case_text_holds(literals, text)


def test_literal_sets_with_accented_literals_scan_non_ascii_text_as_it_is() -> None:
    automaton = LiteralSet(["bureau à distance", "\x00x"], caseless=True)
    text = "Utilisateurs du Bureau À distance ☃"
    assert automaton.scan_text(text) is text
    assert automaton.found(text) == [0]
    assert automaton.scan_text(f"{text} İ") == f"{text} İ".lower()
    assert spellings("à") == ["À", "à"] or sorted(spellings("à") or []) == ["À", "à"]
    assert spellings("a" * 3) == ["aaa"]
    assert spellings("é" * 7) is None  # 128 spellings: too many, lower-case instead
    many = LiteralSet(["é" * 7, "x"], caseless=True)
    assert many.scan_text("ÉÉ") == "éé"


def test_lower_case_maps_characters_as_literal_spellings_assume() -> None:
    """What ``LiteralSet.scan_text`` relies on, for this Python's Unicode tables."""
    for point in range(0x80, sys.maxunicode + 1):
        char = chr(point)
        lower = char.lower()
        if lower == char:
            continue
        assert lower.lower() == lower  # so a spelling never occurs in lower-cased text
        assert point < CASED_BELOW
        if any(part.isascii() for part in lower):
            assert char in FOLDS_TO_ASCII
        else:
            assert len(lower) == 1 or char in FOLDS_TO_ASCII
    # Context-dependent lower-casing: only the final sigma; ``spellings`` refuses σ and ς.
    assert "ΑΣ".lower() == "ας" and "Σ".lower() == "σ"
    assert spellings("σ") is None and spellings("aς") is None


def test_plan_stops_scanning_for_literals_in_nearly_every_event(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """After ``TUNE_AFTER`` scans a literal found in all of them, whose clauses being taken as
    satisfied lets no more rules through on those scans, no longer costs a callback."""
    from detection import index

    monkeypatch.setattr(index, "TUNE_AFTER", 8)
    for name, text in RULES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    engine = load_rules(paths=[tmp_path], stacks=("none",)).engine
    common = {"Channel": "Security", "EventID": 4688, "Image": "C:\\x\\cmd.exe"}
    engine.match_batch([{**common, "CommandLine": f"run {n}"} for n in range(8)])
    plan = engine.index.plan_for_key(("security", "4688"))
    assert plan.counts is None and plan.base
    assert plan.automaton is not None and "\\cmd.exe\x03image\x00" not in plan.automaton.literals
    events: list[dict[str, Any]] = [
        {**common, "CommandLine": "-enc bypass"},
        {**common, "Image": "C:\\x\\powershell.exe", "CommandLine": "IEX"},
        {**common, "ParentImage": "C:\\Windows\\explorer.exe"},
        {**common, "CommandLine": "nothing"},
    ]
    assert_same(engine, events)
    # Tuned, the plan remembers its answer per literals found; repeats give the same hits.
    assert plan.answers
    assert_same(engine, events + events)
    for found, answer in plan.answers.items():
        assert answer == plan._answer(list(found))


def test_event_view_reads_fields_like_the_full_view_and_fills_raw_as_it_goes() -> None:
    """``EventView`` skips building the whole raw view; what it shows must not differ."""
    from detection.view import EventView, LowView, flat_raw, shape_of

    event = {"Image": "C:\\CMD.exe", "ProcessId": 4, "processid": "5", "Elevated": True}
    shape = shape_of(tuple(event), ("channel", "eventid"))
    assert shape is not None
    view, full = EventView(event, shape), LowView(flat_raw(event, shape))
    assert view["image"] == full["image"] == "c:\\cmd.exe"
    assert view.raw == {"image": "C:\\CMD.exe"}  # only what was read
    assert view["processid"] == full["processid"] == ("4", "5")
    assert view["missing"] is None and "missing" not in view.raw
    assert dict(view.complete()) == dict(full.complete()) | {"missing": None}
    assert view.raw == full.raw
