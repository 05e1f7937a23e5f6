"""Scale-out journey: the analyst finds a brute force that no single collector could see.

The scale-out deployment runs as its processes (`tests/scale_out.py`): two collectors receive
halves of an SSH brute force (syslog and HTTP), a worker and beat run the scheduled search on
Redis/PostgreSQL/Elasticsearch, and the API serves the dashboard on the same servers. The
analyst logs in, finds the one correlation alert in the queue and opens it: it names the host,
counts the six events and lists them, from both collectors.

Starts its own processes (not the session's `dijkwacht up --demo`, which is the embedded SQLite
deployment where scheduled mode is refused), with the same browser, accounts and screenshots.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Settings
from tests.journeys.conftest import (
    ACCOUNTS,
    DIJKWACHT,
    OUT,
    PASSWORD,
    Journey,
    _require_browser,
)
from tests.processes import REPO_ROOT, child, free_port, wait_until
from tests.scale_out import (
    BRUTE_TITLE,
    brute_alerts,
    cluster_settings,
    env_for,
    ingest_token,
    send_brute_force,
    start_beat,
    start_collectors_and_worker,
    write_config,
)


@dataclass
class Site:
    """What `Journey` needs of a platform: where the dashboard answers."""

    base_url: str


@pytest.fixture
def cluster(redis_url: str, pg_url: str, es_url: str, tmp_path: Path) -> Iterator[Settings]:
    _require_browser()
    with cluster_settings(redis_url, pg_url, es_url, tmp_path) as settings:
        yield settings


def _api_up(base_url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{base_url}/health", timeout=2).status_code == 200
    return False


@pytest.mark.slow
def test_analyst_finds_a_brute_force_seen_by_two_collectors(
    cluster: Settings, chromium: Any, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    api_env = env_for(cluster, config, tmp_path / "api")
    create_user = ["admin", "create-user", ACCOUNTS["analyst"], "--role", "analyst"]
    subprocess.run(
        [*DIJKWACHT, *create_user, "--password-stdin"],
        cwd=REPO_ROOT,
        env=api_env,
        input=PASSWORD + "\n",
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    token = ingest_token(cluster)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    api = ["-m", "uvicorn", "--factory", "dashboard.app:create_app_from_environment"]
    api += ["--host", "127.0.0.1", "--port", str(port)]
    out = OUT / "test_analyst_finds_a_brute_force_seen_by_two_collectors"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    with ExitStack() as stack:
        stack.enter_context(child(api, env=api_env, log=tmp_path / "api.log"))
        ports = start_collectors_and_worker(stack, cluster, config, tmp_path)
        send_brute_force(ports, token)
        start_beat(stack, cluster, config, tmp_path)
        wait_until(lambda: _api_up(base_url), 60, "the API", tmp_path)
        (alert,) = wait_until(lambda: brute_alerts(cluster), 60, "the correlation", tmp_path)

        journey = Journey(platform=Site(base_url), browser=chromium, out=out)  # type: ignore[arg-type]
        stack.callback(journey.close)
        page: Any = journey.login("analyst")
        page.goto("/alerts")
        table = page.get_by_test_id("alert-table")
        table.wait_for()
        journey.shot(page, "analyst sees the brute force in the alert queue")
        rows = table.locator("tbody tr", has_text=BRUTE_TITLE)
        assert rows.count() == 1, "the correlation must be in the queue exactly once"
        assert "vm-01" in rows.first.inner_text()  # the host column names the attacked host
        rows.first.locator("a").first.click()
        page.get_by_test_id("alert-body").wait_for()
        journey.shot(page, "analyst opens the correlation alert")
        text = page.content()
        assert alert.id in page.url or BRUTE_TITLE in text
        assert "vm-01" in text
        assert page.get_by_test_id("matched-events").count() == 1
