"""`dijkwacht intel ...` end to end, and the scheduled refresh from a local HTTP server."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from core.clock import FrozenClock
from core.config import load_settings
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from dijkwacht.celery_app import beat_schedule
from dijkwacht.cli import app
from intel import service
from intel.flows import refresh_feeds
from tests.intel.conftest import EVIL_DOMAIN, NOW


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(path))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    return path


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_import_list_expire_hunt_from_the_command_line(data_dir: Path, tmp_path: Path) -> None:
    listing = tmp_path / "list.csv"
    soon = (datetime.now().astimezone() + timedelta(days=3)).isoformat()
    listing.write_text(
        "type,value,confidence,tlp,valid_until\n"
        f"domain,Phish.Example,80,green,{soon}\n"
        "ipv4,999.1.1.1,50,green,\n"
        "sha1,da39a3ee5e6b4b0d3255bfef95601890afd80709,60,red,\n"
    )
    result = _run("intel", "import", str(listing), "--format", "csv", "--source", "sector")
    assert result.exit_code == 0, result.output
    assert "sector: added 2, updated 0, expired 0, warninglisted 0, rejected 1" in result.output
    assert "list.csv:3: value: not an IP address" in result.output
    assert "retro-hunt: 0 events" in result.output

    result = _run("intel", "list", "--type", "domain")
    assert result.exit_code == 0, result.output
    assert "domain phish.example · sector · confidence 80" in result.output
    assert "TLP:GREEN" in result.output and "1 of 1" in result.output

    assert "expired 1 indicators" in _run("intel", "expire", "--id", "2").output
    assert "1 of 1" in _run("intel", "list", "--expired").output
    assert "1 indicators over 0 events" in _run("intel", "hunt").output

    bad = _run("intel", "import", str(listing), "--format", "yaml", "--source", "x")
    assert bad.exit_code == 0 and "format: unknown 'yaml'" in bad.output
    assert _run("intel", "list", "--type", "ip").exit_code == 2


def test_export_command_refuses_exercise_and_writes_bundle(data_dir: Path, tmp_path: Path) -> None:
    from playbooks import service as playbooks

    settings = load_settings(environment="test", data_dir=data_dir)
    migrate(settings)
    engine = create_db_engine(settings)
    clock = FrozenClock(NOW)
    with unit_of_work(create_session_factory(engine)) as db:
        real = playbooks.create_incident(db=db, clock=clock, title="t", severity="low", actor="a")
        drill = playbooks.create_incident(
            db=db, clock=clock, title="t", severity="low", actor="a", exercise_id="ex-9"
        )
        for incident in (real, drill):
            playbooks.add_observable(
                db=db, clock=clock, incident_id=incident.id, kind="domain", value=EVIL_DOMAIN,
                actor="a",
            )  # fmt: skip
        ids = (real.id, drill.id)
    engine.dispose()
    target = tmp_path / "out.json"
    result = _run("intel", "export", str(ids[0]), "--format", "stix", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert "1 observables shared" in result.output and EVIL_DOMAIN in target.read_text()
    refused = _run("intel", "export", str(ids[1]))
    assert refused.exit_code == 2
    assert "never shared with a real authority" in refused.output


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_scheduled_refresh_reads_feeds_over_http(
    tmp_path: Path, http_root: tuple[Path, str], misp_feed: Callable[..., Path]
) -> None:
    root, base = http_root
    misp_feed(folder=root / "misp")
    (root / "wl.json").write_text('{"name": "x", "type": "string", "list": ["evil.example"]}')
    settings = load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        intel_feeds={
            "ibd": {"location": f"{base}/misp/", "format": "misp-feed", "tlp": "red"},
            "missing": {"location": f"{base}/nope.json", "format": "stix"},
            "benign": {"location": f"{base}/wl.json", "format": "warninglist"},
        },
    )
    assert beat_schedule(settings)["intel-refresh"]["task"] == "intel.refresh"
    import intel.tasks
    from dijkwacht.celery_app import TASK_MODULES, create_app

    assert "intel.tasks" in TASK_MODULES
    assert "intel.refresh" in create_app(settings).tasks
    assert intel.tasks.refresh.name == "intel.refresh"
    assert "intel-refresh" not in beat_schedule(load_settings(environment="test"))
    migrate(settings)
    results = refresh_feeds(settings=settings, clock=FrozenClock(NOW))
    assert results["ibd"]["added"] == 3
    assert results["missing"]["rejected"] == 1 and results["missing"]["problems"] == 1
    assert results["benign"]["warninglisted"] == 1  # the listed domain retires

    engine = create_db_engine(settings)
    with unit_of_work(create_session_factory(engine), write=False) as db:
        sources = {s.name: s for s in service.overview(db=db, settings=settings)}
        rows, _ = service.list_indicators(
            db=db, clock=FrozenClock(NOW), settings=settings, active=True
        )
    engine.dispose()
    assert sources["ibd"].unexpired == 2 and sources["ibd"].last_refresh_at == NOW
    assert "HTTP 404 File not found" in sources["missing"].last_problems[0]
    assert {r.tlp for r in rows} == {"green"}  # the feed's own tag beats the source default
