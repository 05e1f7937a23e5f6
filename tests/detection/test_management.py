"""Rule management: enable/disable, counters, hot reload, `rules test`, Lucene conversion."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from core.clock import FrozenClock
from core.config import Settings
from core.store.sqlite_alerts import SqliteAlertStore
from detection.correlation_store import load_engine
from detection.management import (
    RuleWatcher,
    convert_to_lucene,
    disabled_rules,
    rule_states,
    set_enabled,
)
from detection.stream import Detector, load_detector, process_batch
from dijkwacht.cli import app

RULE_ID = "11111111-2222-3333-4444-555555555555"
RULE = f"""
title: Whoami
id: {RULE_ID}
status: test
level: high
logsource: {{product: windows, category: process_creation}}
detection:
  sel_image:
    Image|endswith: '\\{{exe}}'
  sel_cli:
    CommandLine|contains: '/all'
  condition: sel_image or sel_cli
"""
EVENTS = [
    {"Image": "C:\\Windows\\whoami.exe", "CommandLine": "whoami"},
    {"Image": "C:\\Windows\\cmd.exe", "CommandLine": "cmd /c dir"},
    {"Image": "C:\\Windows\\hostname.exe", "CommandLine": "hostname /all"},
]


def write_rule(folder: Path, exe: str = "whoami.exe") -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "whoami.yml"
    path.write_text(textwrap.dedent(RULE).replace("{exe}", exe), encoding="utf-8")
    return path


def run(
    detector: Detector,
    sessions: sessionmaker[Session],
    store: SqliteAlertStore,
    clock: FrozenClock,
    events: list[dict[str, str]],
) -> list[str]:
    with sessions() as db:
        state = load_engine(db=db, specs=detector.correlations)
    return process_batch(
        events_with_ids=[(f"id{n}", e) for n, e in enumerate(events)],
        detector=detector,
        alert_store=store,
        correlation_state=state,
        sessions=sessions,
        clock=clock,
        profile=True,
    )


def test_disable_enable_and_counters(
    tmp_path: Path, settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    detector = load_detector(paths=[write_rule(tmp_path / "rules")])
    with SqliteAlertStore(settings.alert_db_path, clock=clock) as store:
        assert len(run(detector, sessions, store, clock, EVENTS)) == 2
        with sessions() as db:
            set_enabled(db=db, clock=clock, actor="t", rule_id=RULE_ID, enabled=False)
            db.commit()
            assert disabled_rules(db=db) == {RULE_ID}
        assert run(detector, sessions, store, clock, [dict(e) for e in EVENTS]) == []
        with sessions() as db:
            set_enabled(db=db, clock=clock, actor="t", rule_id=RULE_ID, enabled=True)
            db.commit()
            state = rule_states(db=db)[RULE_ID]
            assert state.hits == 2 and state.cost_ns > 0 and state.enabled


def test_hot_reload_picks_up_a_changed_rule(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    path = write_rule(folder)
    watcher = RuleWatcher(paths=[folder], load=lambda: load_detector(paths=[folder]))
    detector = watcher.start()
    assert [m.event_index for m in detector.ruleset.match_batch(EVENTS)] == [0, 2]
    assert watcher.poll() is None  # nothing changed
    write_rule(folder, exe="cmd.exe")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert watcher.changed() == [str(path)]
    reloaded = watcher.poll()
    assert reloaded is not None and watcher.reloads == 1
    assert [m.event_index for m in reloaded.ruleset.match_batch(EVENTS)] == [1, 2]


def test_rules_test_names_selection_and_values(tmp_path: Path) -> None:
    rule = write_rule(tmp_path / "rules")
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["rules", "test", str(rule), str(events)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"line 1: {RULE_ID} (Whoami) [none]"
    assert lines[1] == "  sel_image: Image='C:\\\\Windows\\\\whoami.exe'"
    assert lines[2] == f"line 3: {RULE_ID} (Whoami) [none]"
    assert lines[3] == "  sel_cli: CommandLine='hostname /all'"
    assert lines[-1] == "2 match(es)"


def test_lucene_of_a_simple_rule_and_reason_for_an_unconvertible_one(tmp_path: Path) -> None:
    rule = write_rule(tmp_path / "rules")
    (result,) = convert_to_lucene(rule)
    assert result.query is not None and result.reason is None
    assert "process.executable" in result.query and "whoami.exe" in result.query
    broken = tmp_path / "fieldref.yml"
    broken.write_text(
        textwrap.dedent(RULE).replace("Image|endswith: '\\{exe}'", "Image|fieldref: ParentImage"),
        encoding="utf-8",
    )
    (result,) = convert_to_lucene(broken)
    assert result.query is None
    assert result.reason is not None and "field references" in result.reason


def test_cli_enable_disable_and_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "rules"
    write_rule(folder)
    runner = CliRunner()
    result = runner.invoke(app, ["rules", "disable", RULE_ID])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["rules", "list", str(folder)])
    assert listed.exit_code == 0, listed.output
    assert f"{RULE_ID}\tWhoami\thigh\tno\t0\t0.0" in listed.stdout
    assert runner.invoke(app, ["rules", "enable", RULE_ID]).exit_code == 0
    listed = runner.invoke(app, ["rules", "list"])
    assert f"{RULE_ID}\t\t\tyes\t0\t0.0" in listed.stdout
