"""`dijkwacht breach processing-register load/show` and the register loaded by `up` prepare."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from core.config import get_settings, load_settings
from core.store.relational import create_db_engine, create_session_factory
from dijkwacht.cli import app
from dijkwacht.commands.up import prepare
from playbooks.breach import processing_register
from tests.playbooks.breach.test_register import REGISTER_YAML


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def test_load_and_show(tmp_path: Path, data_dir: Path) -> None:
    good = tmp_path / "verwerkingen.yaml"
    good.write_text(REGISTER_YAML, encoding="utf-8")
    runner = CliRunner()
    loaded = runner.invoke(app, ["breach", "processing-register", "load", str(good)])
    assert loaded.exit_code == 0, loaded.output
    assert "loaded 2 processing activities" in loaded.output
    shown = runner.invoke(app, ["breach", "processing-register", "show"])
    assert "Zaaksysteem  (sources: zaak-app01, zaken)" in shown.output
    assert "Wmo-aanvragen: naam, adres, BSN; special: gezondheid" in shown.output
    bad = tmp_path / "fout.yaml"
    bad.write_text(REGISTER_YAML.replace("typical_records: 900", "typical_records: veel"))
    failed = runner.invoke(app, ["breach", "processing-register", "load", str(bad)])
    assert failed.exit_code == 1
    flat = failed.output.replace("\n", "")  # rich wraps long lines
    assert f"{bad}:15: systems[0].activities[1].typical_records: not a number" in flat
    missing = runner.invoke(app, ["breach", "processing-register", "load", str(tmp_path / "x")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_up_prepare_loads_the_configured_register(tmp_path: Path) -> None:
    path = tmp_path / "verwerkingen.yaml"
    path.write_text(REGISTER_YAML, encoding="utf-8")
    settings = load_settings(
        environment="test", data_dir=tmp_path / "data", processing_register_file=path
    )
    prepare(settings)
    engine = create_db_engine(settings)
    with create_session_factory(engine)() as db:
        names = [s.name for s, _ in processing_register.systems(db=db)]
    engine.dispose()
    assert names == ["Zaaksysteem"]
    path.write_text(REGISTER_YAML.replace("sources: [zaak-app01, zaken]", "sources: 12"))
    with pytest.raises(typer.Exit) as stopped:
        prepare(settings)
    assert stopped.value.exit_code == 1
