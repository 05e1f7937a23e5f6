"""`dijkwacht detect` on EVTX folders and Winlogbeat-shaped JSON, with no --pipeline."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from detection.service import load_rules
from tests.conftest import CORPUS_DIR

SAMPLES = CORPUS_DIR / "sigma-dev" / "evtx" / "EVTX-ATTACK-SAMPLES"
REGSVR32 = SAMPLES / "Execution" / "exec_sysmon_lobin_regsvr32_sct.evtx"

PROCESS_RULE = """
title: Regsvr32 started
id: bbbbbbbb-0000-0000-0000-000000000001
status: test
level: high
logsource: {category: process_creation, product: windows}
detection:
    selection:
        Image|endswith: '\\regsvr32.exe'
    condition: selection
"""
LINUX_RULE = """
title: Root login
id: bbbbbbbb-0000-0000-0000-000000000002
status: test
level: low
logsource: {product: linux, service: auth}
detection:
    selection:
        user.name: root
    condition: selection
"""
CORRELATION_RULE = """
title: Many regsvr32
id: bbbbbbbb-0000-0000-0000-000000000003
status: test
correlation:
    type: event_count
    rules: [bbbbbbbb-0000-0000-0000-000000000001]
    group-by: [Computer]
    timespan: 1h
    condition: {gte: 10}
"""
KEYWORD_RULE = """
title: Mimikatz in the Application log
id: bbbbbbbb-0000-0000-0000-000000000004
status: test
level: medium
logsource: {product: windows, service: application}
detection:
    keywords: ['mimikatz']
    condition: keywords
"""


def _winlogbeat(channel: str, event_id: int, provider: str, data: dict[str, str]) -> dict:
    """An event the way Winlogbeat / Elastic Agent ship it (no rendered EVTX record)."""
    return {
        "@timestamp": "2026-11-28T10:00:00.000Z",
        "event": {"code": str(event_id), "original": "<Event xmlns='...'></Event>"},
        "winlog": {
            "channel": channel,
            "event_id": event_id,
            "provider_name": provider,
            "computer_name": "ws01",
            "record_id": 42,
            "event_data": data,
        },
    }


@pytest.mark.skipif(not REGSVR32.is_file(), reason=f"sigma-dev EVTX not found at {SAMPLES}")
def test_detect_on_an_evtx_folder_prints_summary_and_skipped_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "process.yml").write_text(PROCESS_RULE, encoding="utf-8")
    (rules / "linux.yml").write_text(LINUX_RULE, encoding="utf-8")
    (rules / "many.yml").write_text(CORRELATION_RULE, encoding="utf-8")
    logs = tmp_path / "logs" / "host1"
    logs.mkdir(parents=True)
    shutil.copy(REGSVR32, logs / REGSVR32.name)
    shutil.copy(SAMPLES / "Execution" / "exec_sysmon_1_ftp.evtx", logs / "ftp.evtx")
    out = tmp_path / "matches.jsonl"
    command = [sys.executable, "-m", "dijkwacht", "detect", str(rules), str(tmp_path / "logs")]
    result = subprocess.run(
        [*command, "--output", str(out), "--list-skipped"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    matches = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert matches and {m["file"] for m in matches} == {f"host1/{REGSVR32.name}"}
    first = matches[0]
    assert set(first) == {"rule_id", "title", "level", "file", "record_id", "timestamp"}
    assert first["level"] == "high" and isinstance(first["record_id"], int)
    err = result.stderr
    assert "files: 2 (2 EVTX, 0 JSON lines)" in err
    assert "2 skipped" in err
    assert "skipped     1: log source not mapped to a Channel" in err
    assert "skipped     1: correlation rule" in err
    assert "skipped bbbbbbbb-0000-0000-0000-000000000002 'Root login'" in err
    assert "skipped bbbbbbbb-0000-0000-0000-000000000003" in err
    assert f"matches: {len(matches)} from 1 rule(s)" in err and "events/s" in err


def test_winlogbeat_events_in_json_lines_use_the_windows_mapping(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dijkwacht.cli import app

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "process.yml").write_text(PROCESS_RULE, encoding="utf-8")
    sysmon = "Microsoft-Windows-Sysmon/Operational"
    events = [
        _winlogbeat(sysmon, 1, "Microsoft-Windows-Sysmon", {"Image": "C:\\x\\regsvr32.exe"}),
        _winlogbeat(sysmon, 3, "Microsoft-Windows-Sysmon", {"Image": "C:\\x\\regsvr32.exe"}),
    ]
    source = tmp_path / "beats.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    result = CliRunner().invoke(app, ["detect", str(rules), str(source)])
    assert result.exit_code == 0, result.stderr
    found = [json.loads(line) for line in result.stdout.splitlines()]
    # Only the process creation (Sysmon 1) matches: the rule's log source became EventID 1.
    assert [m["line"] for m in found] == [1]
    # An explicit pipeline overrides: the events are matched as they are (Image is under
    # winlog.event_data there, so this rule's plain `Image` finds nothing).
    result = CliRunner().invoke(app, ["detect", str(rules), str(source), "-p", "none"])
    assert result.exit_code == 0 and result.stdout.strip() == ""


def test_keyword_rules_only_see_the_channel_of_their_log_source(tmp_path: Path) -> None:
    (tmp_path / "keyword.yml").write_text(KEYWORD_RULE, encoding="utf-8")
    events = [
        _winlogbeat("Application", 1000, "App", {"Data": "mimikatz.exe crashed"}),
        _winlogbeat("Security", 4688, "Microsoft-Windows-Security-Auditing", {"X": "mimikatz"}),
        _winlogbeat(
            "Microsoft-Windows-Sysmon/Operational", 1, "Microsoft-Windows-Sysmon", {"X": "mimikatz"}
        ),
    ]
    mapped = load_rules(paths=[tmp_path], windows=True)
    assert [m.event_index for m in mapped.match_batch(events)] == [0]
    # Without the mapping (the old default) the keyword rule fired on every channel.
    plain = load_rules(paths=[tmp_path])
    assert [m.event_index for m in plain.match_batch(events)] == [0, 1, 2]


def test_ecs_stack_scope_accepts_winlog_channel(tmp_path: Path) -> None:
    """`ecs_windows` scopes service rules by winlog.channel: they run and match ECS events."""
    rule = KEYWORD_RULE.replace(
        "keywords: ['mimikatz']\n    condition: keywords",
        "x:\n        winlog.event_data.Data|contains: mimikatz\n    condition: x",
    )
    (tmp_path / "app.yml").write_text(rule, encoding="utf-8")
    ruleset = load_rules(paths=[tmp_path], stacks=["ecs_windows"])
    assert ruleset.runnable, ruleset.skipped
    events = [
        _winlogbeat("Application", 1000, "App", {"Data": "mimikatz.exe crashed"}),
        _winlogbeat("Security", 1000, "App", {"Data": "mimikatz.exe crashed"}),
    ]
    assert [m.event_index for m in ruleset.match_batch(events)] == [0]


@pytest.mark.skipif(not REGSVR32.is_file(), reason=f"sigma-dev EVTX not found at {SAMPLES}")
def test_mixed_inputs_json_lines_first_then_evtx(tmp_path: Path) -> None:
    """A plain JSON-lines file before an EVTX file: each keeps its own output shape."""
    from typer.testing import CliRunner

    from dijkwacht.cli import app

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "process.yml").write_text(PROCESS_RULE, encoding="utf-8")
    plain = tmp_path / "a.jsonl"
    plain.write_text(json.dumps({"Image": "C:\\x\\regsvr32.exe"}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["detect", str(rules), str(plain), str(REGSVR32)])
    assert result.exit_code == 0, result.stderr
    found = [json.loads(line) for line in result.stdout.splitlines()]
    assert found[0] == {
        "rule_id": "bbbbbbbb-0000-0000-0000-000000000001",
        "title": "Regsvr32 started",
        "file": str(plain),
        "line": 1,
    }
    assert found[1]["file"] == str(REGSVR32) and isinstance(found[1]["record_id"], int)
    assert "files: 2 (1 EVTX, 1 JSON lines); events: " in result.stderr
