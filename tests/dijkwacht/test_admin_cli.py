"""`dijkwacht admin create-user`, `audit verify|list` and `db upgrade` end to end."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from dijkwacht.cli import app

PASSWORD = "stormvloed-kering-1953"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(path))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    return path


def _run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin)


def _create(username: str, password: str = PASSWORD, role: str = "analyst") -> Result:
    return _run(
        "admin", "create-user", username, "--role", role, "--password-stdin", stdin=password + "\n"
    )


def test_create_user_from_stdin(data_dir: Path) -> None:
    result = _create("Pieter", role="incident_manager")
    assert result.exit_code == 0, result.output
    assert "created user pieter (incident_manager)" in result.output
    with sqlite3.connect(data_dir / "dijkwacht.sqlite") as connection:
        assert connection.execute("SELECT username, role FROM users").fetchall() == [
            ("pieter", "incident_manager")
        ]


def test_create_user_prompts_twice_without_stdin_flag(data_dir: Path) -> None:
    result = _run(
        "admin", "create-user", "kim", "--role", "dpo", "--display-name", "Kim B.",
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output


def test_duplicate_user_is_refused(data_dir: Path) -> None:
    assert _create("pieter").exit_code == 0
    result = _create("PIETER")
    assert result.exit_code == 1
    assert "username: 'pieter' already exists" in result.output


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("sanne", "te-kort", "analyst", "password: must be at least 12 characters"),
        ("sanne.de.wit", "sanne.de.wit", "analyst", "password: must not be the username"),
        ("sanne", PASSWORD, "burgemeester", "role: unknown role 'burgemeester'; allowed:"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    data_dir: Path, username: str, password: str, role: str, message: str
) -> None:
    result = _create(username, password, role)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_audit_verify_passes_then_names_the_tampered_entry(data_dir: Path) -> None:
    for name in ("pieter", "kim", "sanne"):
        assert _create(name).exit_code == 0
    ok = _run("audit", "verify")
    assert ok.exit_code == 0, ok.output
    assert "audit log intact: 3 entries" in ok.output

    # The newest three: two accounts and the verification run itself (on the record, BIO2 8.15.06).
    listed = _run("audit", "list", "--limit", "3")
    assert listed.exit_code == 0
    assert "kim" in listed.output and "sanne" in listed.output and "pieter" not in listed.output
    assert "audit.verified" in listed.output

    with sqlite3.connect(data_dir / "dijkwacht.sqlite") as connection:
        connection.execute("DROP TRIGGER audit_log_no_update")
        connection.execute("""UPDATE audit_log SET details = '{"role": "admin"}' WHERE seq = 2""")
    bad = _run("audit", "verify")
    assert bad.exit_code == 1
    assert "TAMPERED at seq 2" in bad.output and "user.created" in bad.output
    assert "content modified" in bad.output


def test_db_upgrade_reports_progress_once(data_dir: Path) -> None:
    first = _run("db", "upgrade")
    assert first.exit_code == 0 and "upgraded from empty to " in first.output
    second = _run("db", "upgrade")
    assert second.exit_code == 0 and "database already at " in second.output


def test_list_set_role_reset_password_disable_enable(data_dir: Path) -> None:
    assert _create("beheer", role="admin").exit_code == 0
    assert _create("pieter").exit_code == 0
    listed = _run("admin", "list")
    assert listed.exit_code == 0
    assert "beheer\tadmin\tactive" in listed.output and "pieter\tanalyst\tactive" in listed.output

    moved = _run("admin", "set-role", "PIETER", "incident_manager")
    assert moved.exit_code == 0, moved.output
    assert "pieter is now incident_manager" in moved.output
    new = "nieuwe-dijkbewaking-2026"
    reset = _run("admin", "reset-password", "pieter", "--password-stdin", stdin=new + "\n")
    assert reset.exit_code == 0, reset.output
    assert new not in reset.output
    assert _run("admin", "disable", "pieter").output.strip() == "pieter disabled"
    assert "pieter\tincident_manager\tdisabled" in _run("admin", "list").output
    assert _run("admin", "enable", "pieter").exit_code == 0

    with sqlite3.connect(data_dir / "dijkwacht.sqlite") as connection:
        actions = [row[0] for row in connection.execute("SELECT action FROM audit_log")]
    assert actions[-4:] == ["user.role_changed", "user.password_reset", "user.disabled",
                            "user.enabled"]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("set-role", "beheer", "analyst"), "at least one active admin"),
        (("disable", "beheer"), "at least one active admin"),
        (("set-role", "beheer", "koning"), "role: unknown role 'koning'"),
        (("set-role", "niemand", "dpo"), "niemand"),
        (("reset-password", "beheer", "--password-stdin"), "password: must be at least 12"),
    ],
)
def test_admin_changes_are_refused_with_a_clear_message(
    data_dir: Path, args: tuple[str, ...], message: str
) -> None:
    assert _create("beheer", role="admin").exit_code == 0
    result = _run("admin", *args, stdin="kort\n")
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert "beheer\tadmin\tactive" in _run("admin", "list").output
