"""Incremental reload: unchanged rule files are neither parsed nor compiled again."""

from __future__ import annotations

from pathlib import Path

from detection.loader import LastGood
from detection.service import CompileCache, load_rules

RULE = """
title: Rule {n}
id: cccccccc-0000-0000-0000-00000000000{n}
status: test
level: low
logsource: {{category: process_creation, product: windows}}
detection:
    selection:
        Image|endswith: '\\\\tool{n}.exe'
    condition: selection
"""
STACKS = ("sysmon+windows-logsources", "windows-audit+windows-logsources")
EVENTS = [
    {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": "C:\\tool1.exe"},
    {"Channel": "Security", "EventID": 4688, "NewProcessName": "C:\\tool2.exe"},
    {"Channel": "Security", "EventID": 4688, "NewProcessName": "C:\\tool9.exe"},
]


def _matches(ruleset) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    return sorted((m.event_index, m.rule_id) for m in ruleset.match_batch(EVENTS))


def test_reload_compiles_only_the_edited_file(tmp_path: Path) -> None:
    for n in (1, 2, 3):
        (tmp_path / f"r{n}.yml").write_text(RULE.format(n=n), encoding="utf-8")
    cache, last_good = CompileCache(), LastGood()
    first = load_rules(paths=[tmp_path], stacks=STACKS, cache=cache, last_good=last_good)
    assert _matches(first) == _matches(load_rules(paths=[tmp_path], stacks=STACKS))
    again = load_rules(paths=[tmp_path], stacks=STACKS, cache=cache, last_good=last_good)
    assert [id(c) for c in again.engine.compiled] == [id(c) for c in first.engine.compiled]

    (tmp_path / "r3.yml").write_text(RULE.format(n=3).replace("tool3", "tool9"), "utf-8")
    edited = load_rules(paths=[tmp_path], stacks=STACKS, cache=cache, last_good=last_good)
    reused = {id(c) for c in first.engine.compiled} & {id(c) for c in edited.engine.compiled}
    assert len(reused) == len(first.engine.compiled) - 2  # only r3's two stacks were compiled
    assert _matches(edited) == _matches(load_rules(paths=[tmp_path], stacks=STACKS))
    assert (2, "cccccccc-0000-0000-0000-000000000003") in _matches(edited)

    (tmp_path / "r1.yml").unlink()
    gone = load_rules(paths=[tmp_path], stacks=STACKS, cache=cache, last_good=last_good)
    assert [r.rule_id[-1] for r in gone.rules] == ["2", "3"]
    assert len(cache) == 2
