"""`dijkwacht up --demo` as a user runs it: a real process tree, a health page, a clean Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Settings
from core.runtime import read_supervisor_status
from dijkwacht import supervisor as supervisor_module
from dijkwacht.supervisor import ChildSpec, Supervisor
from tests.conftest import REPO_ROOT
from tests.core.test_file_modes import loose_modes
from tests.processes import free_port

pytestmark = pytest.mark.slow

START_TIMEOUT = 150.0


def _children_of(pid: int) -> set[int]:
    """Every descendant pid, read from /proc (no psutil dependency)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _start(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DIJKWACHT_DATA_DIR": str(tmp_path / "data"),
        "DIJKWACHT_HTTP_PORT": str(port),
        "DIJKWACHT_SYSLOG_PORT": str(free_port()),
        "DIJKWACHT_ENVIRONMENT": "test",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "dijkwacht", "up", "--demo"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_healthy(url: str, process: subprocess.Popen[str]) -> dict:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, (
            f"up exited early:\n{process.stdout.read() if process.stdout else ''}"
        )
        try:
            response = httpx.get(url, timeout=2)
            body = response.json()
            running = {
                n
                for n, c in body["components"].get("processes", {}).items()
                if c["state"] == "running"
            }
            if response.status_code == 200 and {"api", "worker", "beat"} <= running:
                return body
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise AssertionError("the platform did not become healthy in time")


def test_up_demo_serves_health_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    process = _start(tmp_path, port)
    try:
        health = _wait_healthy(f"http://127.0.0.1:{port}/health", process)
        assert health["status"] == "ok"
        assert health["components"]["event_store"]["events"] >= 500  # the demo dataset
        alive = httpx.get(f"http://127.0.0.1:{port}/livez", timeout=5)
        assert alive.status_code == 200 and alive.json() == {"status": "alive"}
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5, follow_redirects=True)
        assert page.status_code == 200
        assert str(page.url).endswith("/awareness/index.html")  # anonymous: the public start
        children = _children_of(process.pid)
        assert len(children) >= 3

        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=45)
        assert process.returncode == 0, output
        assert "all processes stopped" in output
        time.sleep(0.5)
        assert not [pid for pid in children if _alive(pid)], "children left running"
        # Everything the API, collector, worker, beat and migrations created is private.
        data_dir = tmp_path / "data"
        assert {"dijkwacht.sqlite", "events.sqlite", "spool.sqlite", "broker.sqlite"} <= {
            p.name for p in data_dir.iterdir()
        }
        assert loose_modes(data_dir) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_crashed_child_is_reported_and_restarted(tmp_path: Path) -> None:
    port = free_port()
    process = _start(tmp_path, port)
    try:
        health = _wait_healthy(f"http://127.0.0.1:{port}/health", process)
        beat_pid = health["components"]["processes"]["beat"]["pid"]
        os.kill(beat_pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        restarted = False
        while time.monotonic() < deadline and not restarted:
            time.sleep(0.5)
            beat = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()["components"][
                "processes"
            ]["beat"]
            restarted = (
                beat["restarts"] == 1 and beat["state"] == "running" and beat["pid"] != beat_pid
            )
        assert restarted, "beat was not restarted"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=45)
        assert "beat exited unexpectedly with code -9" in output
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_killed_web_server_leaves_no_workers_behind_and_comes_back_once(tmp_path: Path) -> None:
    """The API runs several worker processes (`http_workers`); killing their parent must not
    leave them holding the port, or the restarted API cannot bind it and crashes forever."""
    port = free_port()
    process = _start(tmp_path, port)
    try:
        health = _wait_healthy(f"http://127.0.0.1:{port}/health", process)
        api_pid = health["components"]["processes"]["api"]["pid"]
        os.kill(api_pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        api: dict[str, object] = {}
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            except httpx.HTTPError:
                continue
            api = answer.json()["components"]["processes"]["api"]
            if api["state"] == "running" and api["pid"] != api_pid:
                break
        assert api.get("restarts") == 1 and api.get("pid") != api_pid, api
        with pytest.raises(ProcessLookupError):  # the old workers are gone with their parent
            os.killpg(api_pid, 0)
        time.sleep(5)  # a new API that could not bind would have exited again by now
        api = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()["components"][
            "processes"
        ]["api"]
        assert api["restarts"] == 1 and api["state"] == "running"
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=45)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_bad_setting_stops_up_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dijkwacht", "up"],
        cwd=REPO_ROOT,
        env={**os.environ, "DIJKWACHT_HTTP_PORT": "99999", "DIJKWACHT_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "http_port (DIJKWACHT_HTTP_PORT)" in result.stderr
    assert "Traceback" not in result.stderr


def test_supervisor_restarts_a_crashing_child_forever_and_keeps_the_rest_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Far more crashes than the old limit of 5: the platform stays up, the status says why."""
    monkeypatch.setattr(supervisor_module, "MIN_BACKOFF_SECONDS", 0.05)
    monkeypatch.setattr(supervisor_module, "MAX_BACKOFF_SECONDS", 0.2)
    settings = Settings(data_dir=tmp_path, environment="test")  # type: ignore[call-arg]
    crash = ChildSpec("collector", [sys.executable, "-c", "raise SystemExit(3)"])
    steady = ChildSpec("api", [sys.executable, "-c", "import time; time.sleep(60)"])
    lines: list[str] = []
    with open(os.devnull, "w") as devnull:
        supervisor = Supervisor(
            settings=settings, children=[steady, crash], report=lines.append, output=devnull
        )
        for child in supervisor._children:
            child.backoff = 0.05
        runner = threading.Thread(target=lambda: lines.append(f"exit {supervisor.run()}"))
        runner.start()
        seen: set[str] = set()
        status: dict[str, Any] | None = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = read_supervisor_status(settings)
            if status is not None:
                seen.add(status["status"])
                if status["children"]["collector"]["restarts"] >= 8:
                    break
            time.sleep(0.02)
        supervisor.request_stop()
        runner.join(30)
    assert status is not None and status["children"]["collector"]["restarts"] >= 8
    assert status["children"]["collector"]["last_exit"] == 3
    assert status["children"]["api"]["state"] == "running"
    assert status["children"]["api"]["restarts"] == 0
    assert "degraded" in seen
    assert any("collector exited unexpectedly with code 3" in line for line in lines)
    assert lines[-1] == "exit 0"  # stopped by the request, not by the crashes
    final = read_supervisor_status(settings)
    assert final is not None and final["status"] == "stopped"


def test_the_collector_runs_at_a_lower_cpu_priority_than_the_pages(tmp_path: Path) -> None:
    """`collector_nice` is added to the collector's niceness only (the pages keep theirs)."""
    settings = Settings(data_dir=tmp_path, environment="test", collector_nice=7)  # type: ignore[call-arg]
    planned = {spec.name: spec for spec in supervisor_module.plan_children(settings)}
    assert planned["collector"].nice == 7 and planned["api"].nice == 0
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    specs = [ChildSpec("api", sleeper), ChildSpec("collector", sleeper, nice=7)]
    with open(os.devnull, "w") as devnull:
        supervisor = Supervisor(settings=settings, children=specs, report=print, output=devnull)
        runner = threading.Thread(target=supervisor.run)
        runner.start()
        try:
            deadline = time.monotonic() + 20
            while any(c.process is None for c in supervisor._children):
                assert time.monotonic() < deadline
                time.sleep(0.02)
            niceness = {
                c.spec.name: os.getpriority(os.PRIO_PROCESS, c.process.pid)  # type: ignore[union-attr]
                for c in supervisor._children
            }
        finally:
            supervisor.request_stop()
            runner.join(30)
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert niceness == {"api": own, "collector": min(own + 7, 19)}
