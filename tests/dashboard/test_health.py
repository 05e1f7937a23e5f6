"""`/readyz` and `/health` read the supervisor's and the collector's status files."""

from __future__ import annotations

import time

from core.runtime import write_collector_status, write_supervisor_status
from tests.dashboard.conftest import Env


def _supervisor(collector_state: str, *, restarts: int = 0, last_exit: int | None = None) -> dict:
    running = {"state": "running", "pid": 1, "restarts": 0, "last_exit": None}
    return {
        "status": "ok" if collector_state == "running" else "degraded",
        "children": {
            "api": running,
            "collector": {
                "state": collector_state,
                "pid": 2,
                "restarts": restarts,
                "last_exit": last_exit,
            },
        },
    }


def test_readyz_is_ready_without_status_files_and_livez_is_unchanged(env: Env) -> None:
    client = env.client()
    assert client.get("/readyz").json() == {"status": "ready"}
    assert client.get("/livez").json() == {"status": "alive"}
    assert client.get("/health").json()["status"] == "ok"


def test_a_restarting_child_makes_readyz_503_naming_it(env: Env) -> None:
    write_supervisor_status(env.settings, _supervisor("restarting", restarts=7, last_exit=1))
    client = env.client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "degraded": {"process:collector": "restarting (restarts 7, last exit code 1)"},
    }
    health = client.get("/health")
    assert health.status_code == 200  # the API itself is fine
    assert health.json()["status"] == "degraded"
    assert health.json()["components"]["processes"]["collector"]["restarts"] == 7


def test_a_paused_collector_makes_readyz_503_with_the_reason(env: Env) -> None:
    write_supervisor_status(env.settings, _supervisor("running"))
    paused = {
        "spool-writer": {
            "reason": "data_dir=/srv/dw: disk full (ENOSPC)",
            "since": time.time(),
            "retry_after_s": 4.0,
            "blocks_input": True,
        }
    }
    write_collector_status(
        env.settings, {"state": "paused", "pid": 2, "updated_at": time.time(), "paused": paused}
    )
    client = env.client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["degraded"] == {
        "collector:spool-writer": "paused: data_dir=/srv/dw: disk full (ENOSPC) (retry 4.0 s)"
    }
    body = client.get("/health").json()
    assert body["status"] == "degraded"
    assert body["components"]["collector"]["state"] == "paused"
    # Resumed: ready again.
    write_collector_status(
        env.settings, {"state": "running", "pid": 2, "updated_at": time.time(), "paused": {}}
    )
    assert client.get("/readyz").status_code == 200


def test_a_collector_that_stopped_reporting_is_degraded(env: Env) -> None:
    old = time.time() - 3600
    write_collector_status(
        env.settings, {"state": "running", "pid": 2, "updated_at": old, "paused": {}}
    )
    response = env.client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["degraded"]["collector"].startswith("no status for")
    write_collector_status(env.settings, {"state": "stopped", "pid": 2, "updated_at": old})
    assert env.client().get("/readyz").status_code == 200  # a clean stop is not a fault
