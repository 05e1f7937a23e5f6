"""`dijkwacht detect` and `dijkwacht rules check` on a small temporary rules folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dijkwacht.cli import app

CMD_RULE = """
title: Cmd started
id: aaaaaaaa-0000-0000-0000-000000000001
status: test
level: medium
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: '\\cmd.exe'
  condition: sel
"""

WHOAMI_RULE = """
title: Whoami
id: aaaaaaaa-0000-0000-0000-000000000002
status: test
level: low
logsource: {product: windows, category: process_creation}
detection:
  sel:
    CommandLine|contains: 'whoami'
  condition: sel
"""

BROKEN_RULE = """
title: Broken
id: aaaaaaaa-0000-0000-0000-000000000003
logsource: {product: windows}
detection:
  sel:
    Image|nosuchmodifier: 'x'
  condition: sel
"""

SYSMON = "Microsoft-Windows-Sysmon/Operational"
EVENTS = [
    {"Channel": SYSMON, "EventID": 1, "Image": "C:\\cmd.exe", "CommandLine": "cmd /c whoami"},
    {"Channel": "Security", "EventID": "4688", "NewProcessName": "C:\\cmd.exe"},
    {"Channel": SYSMON, "EventID": 1, "Image": "C:\\notepad.exe", "CommandLine": "notepad"},
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "rules"
    (rules / "sub").mkdir(parents=True)
    (rules / "cmd.yml").write_text(CMD_RULE, encoding="utf-8")
    (rules / "sub" / "whoami.yaml").write_text(WHOAMI_RULE, encoding="utf-8")
    (rules / "sub" / "broken.yml").write_text(BROKEN_RULE, encoding="utf-8")
    lines = [json.dumps(EVENTS[0]), "{not json", json.dumps(EVENTS[1]), "", json.dumps(EVENTS[2])]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rules, events


def run(*args: str) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(app, list(args))
    out = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, out, result.stderr


def test_detect_writes_one_json_line_per_match(files: tuple[Path, Path]) -> None:
    rules, events = files
    code, out, err = run("detect", str(rules), str(events), "-p", "sysmon+windows-logsources")
    assert code == 0, err
    assert out == [
        {"rule_id": "aaaaaaaa-0000-0000-0000-000000000001", "title": "Cmd started", "line": 1},
        {"rule_id": "aaaaaaaa-0000-0000-0000-000000000002", "title": "Whoami", "line": 1},
    ]
    assert "broken.yml" in err and "nosuchmodifier" in err  # the broken rule is reported...
    assert "line 2" in err and "not valid JSON" in err  # ...and the bad line, by number


def test_repeated_pipeline_is_a_union(files: tuple[Path, Path], tmp_path: Path) -> None:
    rules, events = files
    target = tmp_path / "out.jsonl"
    code, _, err = run(
        "detect",
        str(rules),
        str(events),
        "--pipeline",
        "sysmon+windows-logsources",
        "--pipeline",
        "windows-audit+windows-logsources",
        "--output",
        str(target),
    )
    assert code == 0, err
    found = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(m["rule_id"][-1], m["line"]) for m in found] == [("1", 1), ("2", 1), ("1", 3)]


def test_default_stack_uses_event_field_names(files: tuple[Path, Path]) -> None:
    rules, events = files
    code, out, _ = run("detect", str(rules), str(events))
    assert code == 0
    assert [(m["rule_id"][-1], m["line"]) for m in out] == [("1", 1), ("2", 1)]


def test_exit_1_when_no_rule_can_run(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.yml").write_text(BROKEN_RULE, encoding="utf-8")
    events = tmp_path / "e.jsonl"
    events.write_text("{}\n", encoding="utf-8")
    code, out, err = run("detect", str(rules), str(events))
    assert code == 1 and out == [] and "no rule can run" in err


def test_unknown_pipeline_is_a_clear_error(files: tuple[Path, Path]) -> None:
    rules, events = files
    code, _, err = run("detect", str(rules), str(events), "-p", "nope")
    assert code == 2 and "unknown pipeline 'nope'" in err


def test_rules_check_lists_problems(files: tuple[Path, Path]) -> None:
    rules, _ = files
    result = CliRunner().invoke(app, ["rules", "check", str(rules)])
    assert result.exit_code == 1
    assert "broken.yml" in result.stdout
    assert "aaaaaaaa-0000-0000-0000-000000000003" in result.stdout
    assert "detection" in result.stdout
    (rules / "sub" / "broken.yml").unlink()
    result = CliRunner().invoke(app, ["rules", "check", str(rules)])
    assert result.exit_code == 0


def test_rule_cache_makes_a_second_run_load_instead_of_compile(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    rules, events = files
    cache = tmp_path / "compiled"
    args = ["detect", str(rules), str(events), "-p", "sysmon+windows-logsources"]
    first = run(*args, "--rule-cache", str(cache))
    entries = sorted(cache.iterdir())
    assert len(entries) == 3  # one per file; the broken file's entry holds its problem
    modified = [entry.stat().st_mtime_ns for entry in entries]
    second = run(*args, "--rule-cache", str(cache))
    assert second[0] == first[0] == 0
    assert second[1] == first[1] == run(*args)[1]
    assert "nosuchmodifier" in second[2]  # the broken rule is still reported
    assert [entry.stat().st_mtime_ns for entry in sorted(cache.iterdir())] == modified
