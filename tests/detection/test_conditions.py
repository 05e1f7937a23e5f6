"""The Sigma condition grammar, selections, collections and the "why did it match" names."""

from __future__ import annotations

from detection.conditions import MAX_ALTERNATIVES, Node, all_of, any_of, negate
from tests.detection.conftest import Matcher

EVENTS = [
    {"A": "1", "B": "1", "C": "1"},
    {"A": "1", "B": "0", "C": "0"},
    {"A": "0", "B": "1", "C": "0"},
    {"A": "0", "B": "0", "C": "1"},
    {"A": "0", "B": "0", "C": "0"},
]

SELECTIONS = """
sel_a:
  A: '1'
sel_b:
  B: '1'
filter_c:
  C: '1'
condition: {condition}
"""


def run(matches: Matcher, condition: str) -> list[int]:
    return matches(SELECTIONS.format(condition=condition), EVENTS)


def test_and_or_not_and_precedence(matches: Matcher) -> None:
    assert run(matches, "sel_a and sel_b") == [0]
    assert run(matches, "sel_a or sel_b") == [0, 1, 2]
    assert run(matches, "sel_a and not filter_c") == [1]
    # `and` binds tighter than `or`; parentheses override.
    assert run(matches, "sel_a or sel_b and filter_c") == [0, 1]
    assert run(matches, "(sel_a or sel_b) and filter_c") == [0]
    assert run(matches, "not (sel_a or sel_b or filter_c)") == [4]


def test_one_of_all_of_patterns_and_them(matches: Matcher) -> None:
    assert run(matches, "1 of sel_*") == [0, 1, 2]
    assert run(matches, "all of sel_*") == [0]
    assert run(matches, "1 of them") == [0, 1, 2, 3]
    assert run(matches, "all of them") == [0]
    assert run(matches, "1 of sel_* and not 1 of filter_*") == [1, 2]
    assert run(matches, "not 1 of sel_*") == [3, 4]


def test_nested_filters(matches: Matcher) -> None:
    rule = """
    selection:
      Image|endswith: '\\cmd.exe'
    filter_main_a:
      ParentImage|endswith: '\\explorer.exe'
    filter_main_b:
      - User|contains: 'svc'
      - User: null
    condition: selection and not 1 of filter_main_*
    """
    events = [
        {"Image": "c:\\cmd.exe", "ParentImage": "c:\\explorer.exe", "User": "bob"},
        {"Image": "c:\\cmd.exe", "ParentImage": "c:\\x.exe", "User": "svc_backup"},
        {"Image": "c:\\cmd.exe", "ParentImage": "c:\\x.exe"},
        {"Image": "c:\\cmd.exe", "ParentImage": "c:\\x.exe", "User": "bob"},
    ]
    assert matches(rule, events) == [3]


def test_list_of_maps_is_or_and_value_list_is_or(matches: Matcher) -> None:
    rule = """
    sel:
      - A: ['x', 'y']
        B: '1'
      - C: 'z'
    condition: sel
    """
    events = [{"A": "y", "B": "1"}, {"A": "y", "B": "2"}, {"C": "Z"}]
    assert matches(rule, events) == [0, 2]


def test_several_conditions_match_if_any_does(matches: Matcher) -> None:
    rule = "a:\n  A: '1'\nb:\n  B: '1'\ncondition:\n  - a and b\n  - not a and not b\n"
    assert matches(rule, EVENTS) == [0, 3, 4]


def test_match_reports_selections_and_rule_metadata(ruleset) -> None:  # type: ignore[no-untyped-def]
    rules = ruleset(SELECTIONS.format(condition="1 of sel_* and not filter_c"))
    [match] = rules.match_batch([{"A": "1", "B": "1"}], start=10)
    assert match.selections == ("sel_a", "sel_b")
    assert match.event_index == 10
    assert (match.rule_id, match.title, match.level) == (
        "11111111-2222-3333-4444-555555555555",
        "Test rule",
        "high",
    )


def test_pipeline_adds_logsource_conditions(ruleset) -> None:  # type: ignore[no-untyped-def]
    rule = "sel:\n  Image|endswith: '\\cmd.exe'\ncondition: sel\n"
    sysmon = ruleset(rule, stacks=["sysmon+windows-logsources"])
    audit = ruleset(rule, stacks=["windows-audit+windows-logsources"])
    sysmon_event = {
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "EventID": 1,
        "Image": "C:\\cmd.exe",
    }
    audit_event = {"Channel": "Security", "EventID": "4688", "NewProcessName": "C:\\cmd.exe"}
    events = [sysmon_event, audit_event, {"Image": "C:\\cmd.exe"}]
    assert [m.event_index for m in sysmon.match_batch(events)] == [0]
    assert [m.event_index for m in audit.match_batch(events)] == [1]
    both = ruleset(rule, stacks=["sysmon+windows-logsources", "windows-audit+windows-logsources"])
    assert [m.event_index for m in both.match_batch(events)] == [0, 1]


def test_unmapped_logsource_does_not_run_under_a_stack(ruleset) -> None:  # type: ignore[no-untyped-def]
    rule = """
    title: Odd source
    id: 22222222-2222-3333-4444-555555555555
    logsource: {product: windows, service: no-such-service}
    detection:
      sel:
        A: '1'
      condition: sel
    """
    rules = ruleset(rule, stacks=["sysmon+windows-logsources"])
    assert not rules.runnable and "Channel" in rules.skipped[0].reason
    assert ruleset(rule, stacks=["none"]).runnable


def test_collection_actions_and_filters(ruleset) -> None:  # type: ignore[no-untyped-def]
    rule = """
    action: global
    title: Collection
    status: test
    logsource: {product: windows}
    detection:
      common:
        A: '1'
      condition: common and sel
    ---
    id: 33333333-2222-3333-4444-555555555555
    detection:
      sel:
        B: '1'
    ---
    id: 44444444-2222-3333-4444-555555555555
    detection:
      sel:
        C: '1'
    ---
    title: Not for host x
    id: 55555555-2222-3333-4444-555555555555
    logsource: {product: windows}
    filter:
      rules: [33333333-2222-3333-4444-555555555555]
      selection:
        Host: 'x'
      condition: not selection
    """
    rules = ruleset(rule)
    assert not rules.problems
    events = [{"A": "1", "B": "1", "Host": "y"}, {"A": "1", "B": "1", "Host": "x"}, EVENTS[0]]
    found = sorted((m.event_index, m.rule_id[:8]) for m in rules.match_batch(events))
    assert found == [(0, "33333333"), (2, "33333333"), (2, "44444444")]


def _leaf(field: str, *texts: str) -> Node:
    return Node(lambda low, raw: True, frozenset((field, text) for text in texts))


def test_one_of_selections_keeps_each_selections_own_clauses() -> None:
    """``(a and b) or (c and d)`` needs a+b or c+d: the index gets both alternatives, not the
    weak CNF ``(a or c) and ...`` that lets an event with only ``a`` and ``c`` through."""
    first = all_of([_leaf("commandline", "ntds.dit"), _leaf("commandline", "powershell")])
    second = all_of([_leaf("commandline", "ac i ntds"), _leaf("commandline", "create full")])
    either = any_of([first, second])
    assert set(either.alternatives) == {first.alternatives[0], second.alternatives[0]}
    assert len(either.alternatives[0]) == 2
    filtered = all_of([either, negate(_leaf("image", "\\x.exe"))])
    assert filtered.alternatives == either.alternatives  # a NOT adds no necessary literal
    assert any_of([either, negate(_leaf("image", "x"))]).alternatives == ()


def test_too_many_alternatives_fall_back_to_clauses() -> None:
    many = [all_of([_leaf("a", f"x{n}"), _leaf("b", f"y{n}")]) for n in range(MAX_ALTERNATIVES + 1)]
    either = any_of(many)
    assert either.alternatives == (either.clauses,) and either.clauses
    both = all_of([any_of(many[:4]), any_of(many[4:8])])  # 16 combinations at most
    assert len(both.alternatives) == 16 and all(len(a) == 4 for a in both.alternatives)


def test_generated_rule_function_agrees_with_the_closure_tree(ruleset) -> None:  # type: ignore[no-untyped-def]
    """``CompiledRule.predicate`` (one generated function) must answer like ``node.pred``."""
    rules = ruleset(
        """
        sel_img:
          - Image|endswith: ['\\\\cmd.exe', '\\\\pwsh.exe']
          - OriginalFileName: ['Cmd.Exe', 'x']
        sel_cli:
          CommandLine|contains|all: ['/c', 'whoami']
          CommandLine|re: 'who.*mi'
        filter:
          ParentImage|startswith: 'C:\\\\Windows\\\\'
          User: null
        filter_ip:
          IpAddress|cidr: ['10.0.0.0/8', '192.168.0.0/16']
        condition: 1 of sel_* and not 1 of filter*
        """
    )
    events = [
        {"Image": "C:\\X\\CMD.exe", "CommandLine": "cmd /c WHOAMI"},
        {"Image": ["a", "b\\cmd.exe"], "ParentImage": "c:\\windows\\x", "IpAddress": "10.1.1.1"},
        {"OriginalFileName": "cmd.exe", "ParentImage": "c:\\windows\\x", "User": "u"},
        {"CommandLine": "/c whoami", "IpAddress": "8.8.8.8"},
        {"CommandLine": "/c whoami", "IpAddress": "192.168.1.1"},
        {"Image": None, "CommandLine": 42},
    ]
    from detection.view import LowView, raw_view

    for rule in rules.engine.compiled:
        for event in events:
            raw = raw_view(event)
            assert bool(rule.predicate(LowView(raw), raw)) == bool(
                rule.node.pred(LowView(raw), raw)
            )
    assert [m.event_index for m in rules.match_batch(events)] == [0, 2, 3]
