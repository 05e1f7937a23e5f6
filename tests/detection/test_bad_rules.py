"""Bad rule files are located problems, never crashes; hot reload keeps a file's last good version.

The crashing inputs of issue #16 are kept here as regression cases: each once took down
`rules check`, `detect`, collector start-up and hot reload.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detection.loader import LastGood
from detection.management import RuleWatcher
from detection.service import check_rules, load_rules
from detection.stream import load_detector
from dijkwacht.cli import app

GOOD_ID = "5d3b4c7e-1111-4222-8333-944455556666"
GOOD = f"""
title: Evil started
id: {GOOD_ID}
status: test
level: high
logsource: {{product: windows, category: process_creation}}
detection:
  sel:
    Image|endswith: '\\evil.exe'
  condition: sel
"""
CHANGED = GOOD.replace("evil.exe", "worse.exe")
LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)

# file name -> (text, line, field, words in the message)
BAD: dict[str, tuple[str, int, str, str]] = {
    "bad_date.yml": (
        GOOD.replace("status: test", "date: 2025-02-30\nstatus: test").replace("6666", "6601"),
        4,
        "date",
        "day is out of range",
    ),
    "int_id.yml": (GOOD.replace(f"id: {GOOD_ID}", "id: 1"), 3, "id", "must be text"),
    "correlation.yml": (
        "title: Many evil\nid: 5d3b4c7e-1111-4222-8333-944455556602\n"
        f"correlation:\n  type: event_count\n  rules: [{GOOD_ID}]\n"
        "  group-by: [User]\n  timespan: 5m\n",
        3,
        "correlation",
        "without condition",
    ),
    "laughs.yml": (LAUGHS, 6, "(yaml)", "alias expansion"),
    "deep.yml": ("title: deep\ndetection: " + "[" * 2000 + "]" * 2000 + "\n", 2, "(yaml)", "nest"),
    "control.yml": (GOOD.replace("Evil started", "Evil\x07started"), 2, "(yaml)", "control"),
    "offset.yml": ("title: x\ndate: 2025-01-01 10:00:00 +99:99\n", 2, "date", "offset"),
}
EVENTS = [{"Image": "C:\\evil.exe"}, {"Image": "C:\\worse.exe"}]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yml").write_text(GOOD, encoding="utf-8")
    for name, (text, *_rest) in BAD.items():
        (rules / name).write_text(text, encoding="utf-8")
    return rules


def test_every_bad_file_is_a_located_problem_and_the_good_rule_runs(folder: Path) -> None:
    started = time.perf_counter()
    ruleset = load_rules(paths=[folder])
    assert time.perf_counter() - started < 5  # the billion laughs are refused, not expanded
    assert [m.event_index for m in ruleset.match_batch(EVENTS)] == [0]
    problems = {Path(p.source).name: p for p in ruleset.problems}
    assert set(problems) == set(BAD)
    for name, (_, line, field, words) in BAD.items():
        problem = problems[name]
        assert (problem.line, problem.field) == (line, field), str(problem)
        assert words in problem.message, str(problem)
        assert str(problem).startswith(f"{folder / name}:{line}: ")


def test_rules_check_lists_every_problem_and_exits_non_zero(folder: Path) -> None:
    result = CliRunner().invoke(app, ["rules", "check", str(folder)])
    assert result.exit_code == 1, result.output
    for name, (_, line, field, _words) in BAD.items():
        assert f"{folder / name}:{line}: " in result.stdout and field in result.stdout
    assert len(check_rules(paths=[folder])) == len(BAD)


def test_detect_keeps_running_with_the_good_rules(folder: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"Image": "C:\\\\evil.exe"}\n{"Image": "x"}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["detect", str(folder), str(events)])
    assert result.exit_code == 0, result.output
    assert f'"rule_id":"{GOOD_ID}"' in result.stdout and '"line":1' in result.stdout
    assert result.stderr.count("rule skipped:") == len(BAD)


def _touch(path: Path, text: str) -> None:
    """Write and move the mtime on, so the watcher sees the change even within one tick."""
    path.write_text(text, encoding="utf-8")
    stamp = time.time() + 1 + path.stat().st_mtime % 1000
    os.utime(path, (stamp, stamp))


@pytest.mark.parametrize("broken", ["int_id.yml", "laughs.yml", "bad_date.yml"])
def test_hot_reload_keeps_the_last_good_version_of_a_file(tmp_path: Path, broken: str) -> None:
    rule = tmp_path / "rule.yml"
    rule.write_text(GOOD, encoding="utf-8")
    last_good = LastGood()
    watcher = RuleWatcher(
        paths=[tmp_path], load=lambda: load_detector(paths=[tmp_path], last_good=last_good)
    )
    assert [m.event_index for m in watcher.start().ruleset.match_batch(EVENTS)] == [0]

    _touch(rule, BAD[broken][0])
    reloaded = watcher.poll()
    assert reloaded is not None
    assert [m.event_index for m in reloaded.ruleset.match_batch(EVENTS)] == [0]  # old rule
    messages = [str(p) for p in reloaded.ruleset.problems]
    assert any(BAD[broken][3] in m for m in messages), messages
    assert any("last good version" in m for m in messages), messages

    _touch(rule, CHANGED)
    fixed = watcher.poll()
    assert fixed is not None and fixed.ruleset.problems == []
    assert [m.event_index for m in fixed.ruleset.match_batch(EVENTS)] == [1]  # new version


def test_a_file_that_never_loaded_is_reported_without_a_fallback(tmp_path: Path) -> None:
    (tmp_path / "rule.yml").write_text(BAD["int_id.yml"][0], encoding="utf-8")
    ruleset = load_rules(paths=[tmp_path], last_good=LastGood())
    assert ruleset.rules == [] and [p.field for p in ruleset.problems] == ["id"]


def test_a_correlation_naming_a_missing_rule_does_not_drop_the_others(tmp_path: Path) -> None:
    correlation = (
        "title: {title}\nid: {id}\ncorrelation:\n  type: event_count\n  rules: [{rule}]\n"
        "  group-by: [User]\n  timespan: 5m\n  condition: {{gte: 2}}\n"
    )
    (tmp_path / "good.yml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "corr_good.yml").write_text(
        correlation.format(title="Ok", id="5d3b4c7e-1111-4222-8333-944455556611", rule=GOOD_ID),
        encoding="utf-8",
    )
    (tmp_path / "corr_missing.yml").write_text(
        correlation.format(title="Bad", id="5d3b4c7e-1111-4222-8333-944455556612", rule="nope"),
        encoding="utf-8",
    )
    detector = load_detector(paths=[tmp_path])
    assert [spec.rule_id for spec in detector.correlations] == [
        "5d3b4c7e-1111-4222-8333-944455556611"
    ]
    [problem] = detector.ruleset.problems
    assert problem.source == str(tmp_path / "corr_missing.yml")
    assert (problem.line, problem.field) == (5, "correlation.rules")
    assert "nope" in problem.message


def test_a_dedup_window_out_of_range_is_a_problem(tmp_path: Path) -> None:
    for number, minutes in enumerate([".inf", ".nan", "1.0e+30"]):
        text = GOOD.replace(GOOD_ID, f"5d3b4c7e-1111-4222-8333-94445555670{number}")
        text += f"dijkwacht.dedup: {{fields: [host.name], minutes: {minutes}}}\n"
        (tmp_path / f"dedup{number}.yml").write_text(text, encoding="utf-8")
    detector = load_detector(paths=[tmp_path])
    assert len(detector.ruleset.rules) == 3
    assert sum("dijkwacht.dedup.minutes: out of range" in p for p in detector.problems) == 3


def test_a_reload_that_fails_as_a_whole_keeps_the_current_rules(tmp_path: Path) -> None:
    (tmp_path / "rule.yml").write_text(GOOD, encoding="utf-8")
    calls: list[int] = []

    def load() -> object:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("a bug in the loader")
        return load_detector(paths=[tmp_path])

    watcher = RuleWatcher(paths=[tmp_path], load=load)
    first = watcher.start()
    _touch(tmp_path / "rule.yml", CHANGED)
    assert watcher.poll() is None and watcher.current is first
    assert watcher.error is not None and "a bug in the loader" in watcher.error
