"""`dijkwacht drills list/schedule/start/pause/resume/stop/status/report/rollback` on a temp dir."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from core.clock import SystemClock
from core.config import get_settings
from core.store import relational
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from dijkwacht.cli import app
from drills import control, service


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(path))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    return path


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["drills", *args])
    return result.exit_code, result.output


def _planned_exercise() -> str:
    settings = get_settings()
    migrate(settings)
    engine = create_db_engine(settings)
    try:
        with unit_of_work(create_session_factory(engine)) as db:
            return control.create_exercise(
                db=db,
                clock=SystemClock(),
                loaded=service.get_scenario("insider-datalek"),
                mode="tabletop",
                controller="oefenleider",
                participants=[],
                actor="test",
            ).id
    finally:
        engine.dispose()


def test_list_and_schedule(data_dir: Path) -> None:
    code, out = _run("list")
    assert code == 0
    assert "insider-datalek\ttabletop/technical\t" in out
    assert len([line for line in out.splitlines() if "\t" in line]) == 8
    code, out = _run(
        "schedule",
        "digid-storing",
        "--start-in-minutes",
        "30",
        "--every-days",
        "91",
        "--participant",
        "ciso:CISO:oefening@gemeente.test",
    )
    assert code == 0 and out.startswith("schedule 1: ")
    engine = create_db_engine(get_settings())
    try:
        with create_session_factory(engine)() as db:
            (row,) = service.list_schedules(db=db)
    finally:
        engine.dispose()
    assert row.every_seconds == 91 * 86400 and row.participants[0]["role"] == "ciso"
    code, out = _run("schedule", "bestaat-niet")
    assert code == 1 and "bestaat-niet" in out and "Traceback" not in out
    # The plan changes before it starts: start, repeat, participants (replaced); audited.
    code, out = _run(
        "edit-plan", "1", "--at", "2030-01-02 10:15", "--once",
        "--participant", "it:analist:it@gemeente.test",
    )  # fmt: skip
    assert code == 0, out
    assert "participants it:analist" in out and "every 0 s" in out
    engine = create_db_engine(get_settings())
    try:
        with create_session_factory(engine)() as db:
            (row,) = service.list_schedules(db=db)
    finally:
        engine.dispose()
    assert row.every_seconds is None and row.participants == [
        {"role": "it", "name": "analist", "email": "it@gemeente.test"}
    ]
    assert row.next_run_at is not None and row.next_run_at.isoformat().startswith(
        "2030-01-02T09:15"
    )
    code, out = _run("edit-plan", "1", "--mode", "vliegen")
    assert code == 1 and "mode" in out and "tabletop" in out
    code, out = _run("edit-plan", "1", "--at", "morgen")
    assert code == 1 and "--at 'morgen'" in out and "YYYY-MM-DD" in out
    code, out = _run("edit-plan", "1", "--participant", "piloot:x:x@gemeente.test")
    assert code == 1 and "burgemeester" in " ".join(out.split())
    assert "'piloot:x:x@gemeente.test'" in out  # the bad value as typed, no emoji
    code, out = _run("edit-plan", "99", "--once")
    assert code == 1 and "schedule 99 not found" in out


def test_controller_commands_report_and_rollback(data_dir: Path, tmp_path: Path) -> None:
    exercise_id = _planned_exercise()
    code, out = _run("start", exercise_id)
    assert code == 0 and f"OEFENING {exercise_id} running; criteria sha256 " in out
    code, out = _run("start", exercise_id)
    assert code == 1 and "needs planned" in out
    assert _run("pause", exercise_id)[0] == 0
    assert _run("resume", exercise_id)[0] == 0
    code, out = _run("status", exercise_id)
    assert code == 0 and out.startswith(f"OEFENING / EXERCISE {exercise_id}: running, minute ")
    assert "\tpending\t" in out
    code, out = _run("rollback", exercise_id)
    assert code == 1 and "stop exercise" in out
    code, out = _run("stop", exercise_id)
    assert code == 0 and f"OEFENING {exercise_id} stopped" in out
    reports = tmp_path / "rapporten"
    code, out = _run("report", exercise_id, "--out", str(reports))
    assert code == 0, out
    html = (reports / f"{exercise_id}-oefening.html").read_text(encoding="utf-8")
    assert "OEFENING / EXERCISE" in html
    assert (reports / f"{exercise_id}-oefening.pdf").read_bytes().startswith(b"%PDF")
    assert "Evaluatieverslag" in html and "After-action report" not in html
    code, out = _run("report", exercise_id, "--out", str(reports), "--lang", "en")
    assert code == 0, out
    english = (reports / f"{exercise_id}-exercise.html").read_text(encoding="utf-8")
    assert "After-action report" in english and "Evaluatieverslag" not in english
    assert (reports / f"{exercise_id}-exercise.pdf").read_bytes().startswith(b"%PDF")
    code, out = _run("report", exercise_id, "--lang", "de")
    assert code != 0 and "de" in out
    code, out = _run("rollback", exercise_id)
    assert code == 0 and "events\t0" in out
    code, out = _run("status", "oef-bestaat-niet")
    assert code == 1 and "not found" in out


def test_check_reports_file_line_field(tmp_path: Path) -> None:
    (tmp_path / "kapot.yml").write_text("id: kapot\ntitle: x\n", encoding="utf-8")
    code, out = _run("check", str(tmp_path))
    assert code == 1 and f"{tmp_path / 'kapot.yml'}:" in out


def test_a_locked_database_is_a_message_and_exit_75_not_a_trace(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings()
    migrate(settings)
    monkeypatch.setattr(relational, "SQLITE_BUSY_TIMEOUT_MS", 200)  # wait 0.2 s, not 15 s
    holder = sqlite3.connect(str(make_url(settings.sqlalchemy_url).database), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer keeps the lock
        code, out = _run("schedule", "digid-storing")
        assert code == 75 and "database busy" in out and "nothing was changed" in out
        assert "Traceback" not in out
    finally:
        holder.rollback()
        holder.close()
    code, out = _run("schedule", "digid-storing")
    assert code == 0 and out.startswith("schedule 1: ")  # the refused run left nothing behind


def test_bad_participant_and_mode_name_the_value_and_the_allowed_ones(data_dir: Path) -> None:
    migrate(get_settings())
    code, out = _run(
        "schedule", "ransomware-fileservers", "--participant", "crisis_team:Piet:p@gemeente.test"
    )
    assert code == 1 and "Traceback" not in out and "ValidationError" not in out
    assert "unknown role 'crisis_team'" in out
    assert "burgemeester" in out and "veiligheidsregio" in out
    code, out = _run("schedule", "digid-storing", "--mode", "technical")
    assert code == 1 and "--mode 'technical'" in out and "supports tabletop" in out
    code, out = _run("schedule", "digid-storing", "--participant", "ciso-zonder-adres")
    assert code == 1 and "expected role:name:email" in out
    help_text = CliRunner().invoke(app, ["drills", "schedule", "--help"]).output
    assert "gemeentesecretaris" in help_text


def test_start_a_scenario_without_a_plan_offers_to_plan_and_start(data_dir: Path) -> None:
    migrate(get_settings())
    result = CliRunner().invoke(app, ["drills", "start", "ransomware-fileservers"], input="n\n")
    assert result.exit_code == 1
    assert "has no planned exercise. Plan and start it now" in result.output
    assert "drills schedule" in result.output
    result = CliRunner().invoke(
        app,
        ["drills", "start", "ransomware-fileservers", "--mode", "technical"],
        input="y\n",
    )
    assert result.exit_code == 0, result.output
    assert "OEFENING oef-" in result.output and "running; criteria sha256" in result.output
    code, out = _run("start", "bestaat-niet")
    assert code == 1 and "'bestaat-niet' is neither a planned exercise nor a scenario" in out
    assert "ransomware-fileservers" in out and "Traceback" not in out
