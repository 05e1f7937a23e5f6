"""The dashboard in Debian's headless Chromium against a real uvicorn on 127.0.0.1.

Scenario: an analyst logs in, opens the queue and an alert, triages it into an incident; an
incident manager opens the breach clocks and sees the overdue one, then approves (four eyes) a
playbook action the analyst requested on an OEFENING/EXERCISE incident. Screenshots go to
test-output/browser/ (git-ignored). Needs /usr/bin/chromium and playwright-core in .cache/node
(scripts/test-browser.sh, run by ./dev test): skipped only outside CI when missing; in CI
(CI=true) a missing browser fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import create_user
from core.accounts.models import Role
from core.clock import SystemClock
from core.config import Settings
from core.store.base import NewAlert
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.sqlite_alerts import SqliteAlertStore
from core.store.unit_of_work import unit_of_work
from tests.processes import free_port

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / ".cache" / "node" / "node_modules"
SCENARIO = Path(__file__).with_name("browser_scenario.mjs")
CHROMIUM = "/usr/bin/chromium"
OUT = REPO / "test-output" / "browser"
PASSWORD = "browser horse battery staple"


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return "Debian chromium missing (/usr/bin/chromium)"
    if shutil.which("node") is None:
        return "node missing"
    if not (NODE_MODULES / "playwright-core" / "package.json").is_file():
        return "playwright-core missing in .cache/node (run scripts/test-browser.sh)"
    return None


def _seed_approval(db: Session, clock: SystemClock) -> None:
    """An exercise incident whose account-compromise run (started by routing) waits on an action
    the analyst asked for: only someone else with the playbook's role may approve it."""
    from core.accounts.models import User
    from playbooks.service import create_incident, load_library, request_action, start_run, steps_of

    incident = create_incident(
        db=db,
        clock=clock,
        title="OEFENING: account overgenomen",
        severity="high",
        actor="analist",
        exercise_id="oef-browser",
    )
    loaded = load_library()["account-compromise"]
    run, _work = start_run(
        db=db, clock=clock, incident_id=incident.id, loaded=loaded, actor="routing"
    )
    step = next(s for s in steps_of(db=db, run_id=run.id) if s.step_id == "disable-account")
    analyst = db.scalars(select(User).where(User.username == "analist")).one()
    request_action(db=db, clock=clock, run_step_id=step.id, user=analyst)


def _seed(settings: Settings) -> None:
    """Two users, one alert, one breach whose 72-hour clock ran out yesterday, one approval."""
    from playbooks.breach.register import open_breach

    migrate(settings)
    clock = SystemClock()
    engine = create_db_engine(settings)
    with unit_of_work(create_session_factory(engine)) as db:
        create_user(db=db, username="analist", password=PASSWORD, role=Role.ANALYST, clock=clock)
        create_user(
            db=db, username="manager", password=PASSWORD, role=Role.INCIDENT_MANAGER, clock=clock
        )
        open_breach(
            db=db,
            clock=clock,
            settings=settings,
            actor="dpo",
            title="Lijst met adressen verkeerd gemaild",
            aware_at=clock.now() - timedelta(days=4),
        )
        _seed_approval(db, clock)
    engine.dispose()
    with SqliteAlertStore(settings.alert_db_path) as store:
        store.add_batch(
            [
                NewAlert(
                    rule_id="browser-rule",
                    rule_title="Brute force op portaal",
                    level="high",
                    created_at=datetime.now(UTC),
                    host_name="gm-web-01",
                    body={"event_ids": [], "selections": ["selection"]},
                )
            ]
        )


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    """uvicorn in a subprocess on a free loopback port, on the test's own data dir."""
    _seed(settings)
    port = free_port()
    env = {
        **os.environ,
        "DIJKWACHT_ENVIRONMENT": "test",
        "DIJKWACHT_DATA_DIR": str(settings.resolved_data_dir),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "--host", "127.0.0.1"]
    command += ["--port", str(port), "dashboard.app:create_app_from_environment"]
    OUT.mkdir(parents=True, exist_ok=True)
    log = (OUT / "server.log").open("wb")  # the server's own output, kept for a failing run
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/login", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not start: {(OUT / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_triage_and_breach_clocks_in_chromium(server: str) -> None:
    missing = _missing()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser test cannot run in CI: {missing}")
        pytest.skip(missing)
    OUT.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["node", str(SCENARIO), str(NODE_MODULES), server, str(OUT)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SCENARIO_PASSWORD": PASSWORD, "CHROMIUM": CHROMIUM},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert seen["who"].startswith("analist")
    assert "/incidents/" in seen["incident_url"]
    assert "Brute force op portaal" in seen["incident_title"]
    assert "TE LAAT" in seen["overdue"]  # Dutch, the default language
    assert seen["clock_rows"] >= 1
    assert "OEFENING / EXERCISE" in seen["approval_banner"]
    assert "goedgekeurd door manager" in seen["approval_after"]
    assert "queued" in seen["approval_after"]
    names = ("01-alert-queue", "02-alert-detail", "03-incident", "04-breach-clocks")
    for name in (*names, "05-approval-requested", "06-action-approved"):
        assert (OUT / f"{name}.png").stat().st_size > 1000
