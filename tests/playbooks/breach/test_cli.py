"""`dijkwacht breach list/show/clocks/export` on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.clock import FrozenClock
from core.config import get_settings
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from dijkwacht.cli import app
from playbooks.breach import register
from tests.playbooks.breach.test_reports import pdf_text


def test_breach_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    get_settings.cache_clear()
    settings = get_settings()
    migrate(settings)
    engine = create_db_engine(settings)
    now = datetime.now(UTC)
    with unit_of_work(create_session_factory(engine)) as db:
        late = FrozenClock(now - timedelta(hours=80))
        register.open_breach(db=db, clock=late, settings=settings, actor="ali", title="Oud lek")
        register.open_breach(
            db=db, clock=FrozenClock(now), settings=settings, actor="ali", title="Oefenlek",
            exercise_id="drill-1",
        )  # fmt: skip
    engine.dispose()
    runner = CliRunner()
    listed = runner.invoke(app, ["breach", "list"])
    assert listed.exit_code == 0 and "DL-" in listed.output and "OEFENING" in listed.output
    shown = runner.invoke(app, ["breach", "show", "1"])
    assert "Oud lek" in shown.output and "OVERDUE" in shown.output and "opened" in shown.output
    assert runner.invoke(app, ["breach", "show", "99"]).exit_code == 1
    clocks = runner.invoke(app, ["breach", "clocks"])
    lines = [line for line in clocks.output.splitlines() if line.strip()]
    assert "[overdue]" in lines[0] and any("(OEFENING)" in line for line in lines)
    exported = runner.invoke(app, ["breach", "export", "--format", "csv"])
    assert "Oud lek" in exported.output and "Oefenlek" not in exported.output
    target = tmp_path / "register.pdf"
    result = runner.invoke(app, ["breach", "export", "--format", "pdf", "-o", str(target)])
    assert result.exit_code == 0 and "Oud lek" in pdf_text(target.read_bytes())
