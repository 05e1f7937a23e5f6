"""`dijkwacht tokens create|list|revoke`: the one command group for API tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.accounts.tokens import TokenRefusedError, verify_token
from core.audit import AuditEntry
from core.clock import SystemClock
from core.config import get_settings, load_settings
from core.store.relational import create_db_engine, create_session_factory
from dijkwacht.cli import app


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    directory = tmp_path / "data"
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(directory))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield directory
    get_settings.cache_clear()


def test_create_list_revoke(data_dir: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["tokens", "create", "--scope", "ingest", "--source", "brp"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("dkw_") and len(secret.splitlines()) == 1  # stdout: the secret only
    assert "token 1 (no user, source brp): ingest" in made.stderr

    listed = runner.invoke(app, ["tokens", "list"])
    assert listed.exit_code == 0, listed.output
    fields = listed.stdout.strip().split("\t")
    assert fields[0] == "1" and fields[2:7] == ["brp", "-", "brp", "ingest", "active"]
    assert secret not in listed.stdout and fields[1] == f"{secret[:12]}_…"

    assert runner.invoke(app, ["tokens", "revoke", "1"]).exit_code == 0
    assert "\trevoked\t" in runner.invoke(app, ["tokens", "list"]).stdout
    missing = runner.invoke(app, ["tokens", "revoke", "42"])
    assert missing.exit_code == 1 and "token 42 does not exist" in missing.output

    settings = load_settings(environment="test", data_dir=data_dir)
    engine = create_db_engine(settings)
    with create_session_factory(engine)() as db:
        with pytest.raises(TokenRefusedError, match="revoked"):
            verify_token(db=db, token=secret, clock=SystemClock())
        actions = db.scalars(
            select(AuditEntry.action).where(AuditEntry.object_type == "api_token")
        ).all()
        assert list(actions) == ["token.created", "token.revoked"]
    engine.dispose()


def test_bad_input_names_the_field(data_dir: Path) -> None:
    runner = CliRunner()
    no_user = runner.invoke(app, ["tokens", "create", "--scope", "read:alerts"])
    assert no_user.exit_code == 1
    assert "scope: a token without a user may only hold 'ingest'" in no_user.output
    bad_source = runner.invoke(app, ["tokens", "create", "--scope", "ingest", "--source", "A B"])
    assert bad_source.exit_code == 1 and "source: must be 1-64" in bad_source.output
    nobody = runner.invoke(app, ["tokens", "create", "--user", "nobody", "--scope", "ingest"])
    assert nobody.exit_code == 1 and "nobody" in nobody.output
