"""`dijkwacht incidents list/show` and `dijkwacht playbooks check DIR`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.clock import SystemClock
from core.config import get_settings
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from dijkwacht.cli import app
from playbooks.library import LIBRARY_DIR
from playbooks.service import add_observable, change_status, create_incident


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(path))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    return path


def test_playbooks_check_passes_the_library_and_names_file_line_field(tmp_path: Path) -> None:
    good = CliRunner().invoke(app, ["playbooks", "check", str(LIBRARY_DIR)])
    assert good.exit_code == 0 and "all playbooks valid" in good.output
    (tmp_path / "bad.yml").write_text("id: Bad Id\ntitle: T\n", encoding="utf-8")
    bad = CliRunner().invoke(app, ["playbooks", "check", str(tmp_path)])
    assert bad.exit_code == 1
    lines = bad.output.splitlines()
    assert f"{tmp_path / 'bad.yml'}:1: id: String should match pattern" in lines[0]
    assert any(line.endswith("title: String should have at least 3 characters") for line in lines)
    assert any(": version: required field is missing" in line for line in lines)


def test_incidents_list_and_show(data_dir: Path) -> None:
    settings = get_settings()
    migrate(settings)
    engine = create_db_engine(settings)
    clock = SystemClock()
    with unit_of_work(create_session_factory(engine)) as db:
        first = create_incident(db=db, clock=clock, title="Phishing", severity="low", actor="ana")
        second = create_incident(db=db, clock=clock, title="DDoS", severity="high", actor="ana")
        for incident in (first, second):
            add_observable(
                db=db, clock=clock, incident_id=incident.id, kind="ip", value="192.0.2.9", actor="a"
            )
        change_status(
            db=db, clock=clock, incident_id=second.id, status="in_progress", reason="r", actor="a"
        )
    engine.dispose()
    listed = CliRunner().invoke(app, ["incidents", "list", "--status", "in_progress"])
    assert listed.exit_code == 0, listed.output
    assert "DDoS" in listed.output and "Phishing" not in listed.output
    shown = CliRunner().invoke(app, ["incidents", "show", str(first.id)])
    assert shown.exit_code == 0, shown.output
    assert "ip: 192.0.2.9 (seen in 1 other incidents)" in shown.output
    assert "incident.observable_added" in shown.output
    missing = CliRunner().invoke(app, ["incidents", "show", "99"])
    assert missing.exit_code == 1


def test_incidents_assign_status_comment_merge_close(data_dir: Path) -> None:
    from core.accounts import Role, create_user
    from playbooks.service import get_incident, timeline

    settings = get_settings()
    migrate(settings)
    engine = create_db_engine(settings)
    clock = SystemClock()
    with unit_of_work(create_session_factory(engine)) as db:
        create_user(
            db=db, username="ana", password="correct horse battery", role=Role.ANALYST, clock=clock
        )
        first = create_incident(db=db, clock=clock, title="Phishing", severity="low", actor="a")
        second = create_incident(db=db, clock=clock, title="Phish 2", severity="low", actor="a")
    run = CliRunner().invoke
    nobody = run(app, ["incidents", "assign", str(first.id), "nobody_xyz"])
    assert nobody.exit_code == 2 and "assignee: no account named 'nobody_xyz'" in nobody.output
    assert run(app, ["incidents", "assign", str(first.id), "ana"]).exit_code == 0
    illegal = run(app, ["incidents", "status", str(first.id), "resolved", "-r", "skip"])
    assert illegal.exit_code == 2 and "cannot go from 'new' to 'resolved'" in illegal.output
    assert (
        run(app, ["incidents", "status", str(first.id), "in_progress", "-r", "go"]).exit_code == 0
    )
    assert run(app, ["incidents", "comment", str(first.id), "Mail **purged**"]).exit_code == 0
    merged = run(app, ["incidents", "merge", str(second.id), "--into", str(first.id)])
    assert merged.exit_code == 0, merged.output
    closed = run(
        app, ["incidents", "close", str(first.id), "--reason", "resolved", "--summary", "Done"]
    )
    assert closed.exit_code == 0, closed.output
    with unit_of_work(create_session_factory(engine), write=False) as db:
        incident = get_incident(db=db, incident_id=first.id)
        assert (incident.status, incident.assignee, incident.close_reason) == (
            "closed",
            "ana",
            "resolved",
        )
        assert get_incident(db=db, incident_id=second.id).merged_into == first.id
        actions = [entry.action for entry in timeline(db=db, incident_id=first.id)]
        assert {"incident.assigned", "incident.commented", "incident.merged_in"} <= set(actions)
        assert all(e.actor.startswith("cli:") for e in timeline(db=db, incident_id=first.id)[2:])
    engine.dispose()


def test_exceptions_add_list_expire_and_window(data_dir: Path) -> None:
    migrate(get_settings())
    run = CliRunner().invoke
    naive = run(
        app,
        [
            "exceptions",
            "add",
            "rule-x",
            "--when",
            "host.name=pc-7",
            "--reason",
            "Test",
            "--expires",
            "2099-01-01T00:00",
        ],
    )
    assert naive.exit_code == 2 and "expires: give a time zone" in naive.output
    added = run(
        app,
        [
            "exceptions",
            "add",
            "rule-x",
            "--when",
            "host.name=pc-7",
            "--reason",
            "Test",
            "--expires",
            "2099-01-01T00:00+00:00",
        ],
    )
    assert added.exit_code == 0 and "exception #1 added" in added.output
    window = run(
        app,
        [
            "exceptions",
            "window",
            "--from",
            "2099-01-01T00:00+00:00",
            "--until",
            "2099-01-01T02:00+00:00",
            "--reason",
            "Patches",
            "--host",
            "srv-1",
        ],
    )
    assert window.exit_code == 0, window.output
    listed = run(app, ["exceptions", "list"])
    assert "#1 rule-x when host.name=pc-7" in listed.output and "suppressed 0" in listed.output
    assert "window #1 srv-1" in listed.output
    edited = run(
        app,
        ["exceptions", "edit", "1", "--reason", "Longer", "--expires", "2099-02-01T00:00+00:00"],
    )
    assert edited.exit_code == 0 and "2099-02-01" in edited.output, edited.output
    ended = run(app, ["exceptions", "end-window", "1", "--reason", "Patches done early"])
    assert ended.exit_code == 0 and "maintenance window #1 ended" in ended.output, ended.output
    missing = run(app, ["exceptions", "end-window", "9", "--reason", "no such window"])
    assert missing.exit_code == 1 and "does not exist" in missing.output
    expired = run(app, ["exceptions", "expire", "1", "--reason", "Done"])
    assert expired.exit_code == 0 and "suppressing 0 alerts" in expired.output
    assert "#1 rule-x" not in run(app, ["exceptions", "list"]).output


def test_incidents_link_alert_add_task_complete_task(data_dir: Path) -> None:
    from core.store.base import NewAlert
    from core.store.factory import open_alert_store
    from playbooks.service import alert_ids, tasks_of, timeline

    settings = get_settings()
    migrate(settings)
    engine = create_db_engine(settings)
    clock = SystemClock()
    store = open_alert_store(settings)
    first, second = store.add_batch(
        [
            NewAlert(created_at=clock.now(), rule_id="r", rule_title="R", level="low")
            for _ in range(2)
        ]
    )
    with unit_of_work(create_session_factory(engine)) as db:
        incident = create_incident(
            db=db, clock=clock, title="Brute force", severity="low", actor="a"
        )
    run = CliRunner().invoke
    linked = run(app, ["incidents", "link-alert", str(incident.id), first, second, first])
    assert linked.exit_code == 0, linked.output
    assert f"incident {incident.id}: linked 2 alert(s)" in linked.output
    assert store.get(first).status == "in_incident"
    unknown = run(app, ["incidents", "link-alert", str(incident.id), "no-such-alert"])
    assert unknown.exit_code == 1 and "no-such-alert" in unknown.output
    bad = run(app, ["incidents", "add-task", str(incident.id), "Logs", "--assignee", "nobody_xyz"])
    assert bad.exit_code == 2 and "assignee: no account named 'nobody_xyz'" in bad.output
    added = run(app, ["incidents", "add-task", str(incident.id), "Logs veiligstellen"])
    assert added.exit_code == 0, added.output
    task_id = added.output.split()[1]
    empty = run(app, ["incidents", "complete-task", task_id, "--note", " "])
    assert empty.exit_code == 2 and "note: say what was done" in empty.output
    done = run(app, ["incidents", "complete-task", task_id, "--note", "op USB gezet"])
    assert done.exit_code == 0, done.output
    shown = run(app, ["incidents", "show", str(incident.id)])
    assert f"[{task_id}] Logs veiligstellen — done by cli:" in shown.output
    store.close()
    with unit_of_work(create_session_factory(engine), write=False) as db:
        assert sorted(alert_ids(db=db, incident_id=incident.id)) == sorted([first, second])
        assert tasks_of(db=db, incident_id=incident.id)[0].note == "op USB gezet"
        actions = [e.action for e in timeline(db=db, incident_id=incident.id)]
    engine.dispose()
    assert actions.count("incident.alert_linked") == 2
    assert {"incident.task_added", "incident.task_completed"} <= set(actions)


def test_incidents_severity_observable_evidence(data_dir: Path, tmp_path: Path) -> None:
    import hashlib

    settings = get_settings()
    migrate(settings)
    engine = create_db_engine(settings)
    with unit_of_work(create_session_factory(engine)) as db:
        incident = create_incident(
            db=db, clock=SystemClock(), title="Lek", severity="low", actor="a"
        )
    engine.dispose()
    run = CliRunner().invoke
    bad = run(app, ["incidents", "severity", str(incident.id), "huge", "--reason", "x"])
    assert bad.exit_code == 2 and "severity: must be one of" in bad.output
    raised = run(app, ["incidents", "severity", str(incident.id), "high", "--reason", "Meer"])
    assert raised.exit_code == 0 and "severity high" in raised.output
    seen = run(app, ["incidents", "observable", str(incident.id), "ip", "198.51.100.23"])
    assert seen.exit_code == 0 and "ip 198.51.100.23 (also in no other incident)" in seen.output
    wrong = run(app, ["incidents", "observable", str(incident.id), "ip", "not-an-ip"])
    assert wrong.exit_code == 2 and "value" in wrong.output
    evidence = tmp_path / "auth.log"
    evidence.write_bytes(b"Failed password\n")
    kept = run(app, ["incidents", "evidence", str(incident.id), str(evidence), "-d", "syslog"])
    assert kept.exit_code == 0, kept.output
    assert hashlib.sha256(b"Failed password\n").hexdigest() in kept.output
    shown = run(app, ["incidents", "show", str(incident.id)])
    assert "incident.severity_changed" in shown.output and "incident.evidence_added" in shown.output
