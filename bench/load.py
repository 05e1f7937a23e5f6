"""A heavy SOC day: analysts on the pages while HTTP and TCP syslog ingest run at full rate.

Run: `.venv/bin/python bench/load.py [--seconds 60] [--alerts 300000] [--ingest-url URL]`.

Set-up (not timed): a fresh data directory gets 300,000 alerts through the alert store's own
bulk insert (`bench.dashboard.fill`), an analyst (who may read alerts, incidents and events)
and an HTTP ingest token. Then the platform is started exactly as an operator starts it,
`python -m dijkwacht up`, with free ports, and the bench waits for /health to show every
process running.

Load, for `--seconds`, all over real HTTP and TCP from this process (asyncio + httpx):
- `--clients` analysts (30), closed loop: each logs in once through the form before the load
  window starts (set-up, not timed: 30 argon2 checks at once fill both cores for seconds),
  then asks one page from the mix (alert queue, grouped queue, /api/alerts, alert detail,
  incident list, event search), waits for the answer, thinks `--think` seconds (0.5), and asks
  the next.
- HTTP ingest offering `--http-rate` events/s (1,000) as NDJSON batches of `--http-batch`
  on a fixed schedule (batch k due at k x batch / rate), up to 16 requests in flight; a batch
  whose slot is not free waits (no queue grows in the bench; `http_slot_waits` counts these
  waits). The 200 answer's `accepted` is the acknowledgement; batches are not retried.
- One TCP syslog connection offering `--syslog-rate` lines/s (1,000), LF-framed RFC 5424,
  line n due at n / rate; syslog has no acknowledgement, so a line counts as taken once the
  socket drained it. A lost connection is reopened; lines due meanwhile are never sent.
- Both ingest senders run in a child process with their own event loop, so the analysts'
  page parsing cannot make the bench itself fall behind the schedule.

The offer is the schedule, rate x seconds per source: events the platform did not take in time
(back-pressure, slow answers, a collector restarting) are offered and not acknowledged; the
`*_sent` figures show what the bench managed to send. After the run the bench waits until the
stored counts reach what was taken or stop moving, counting stored events by a per-run marker
in each message. `value` = HTTP events acknowledged and stored + syslog lines sent and stored;
`baseline` = events offered. `server_errors`: 5xx answers and HTTP requests without an answer
(timeouts, resets), pages and ingest. `process_crashes`: restarts and failures in the
supervisor's run/supervisor.json, plus an `up` that exited early or did not stop cleanly. Page
latencies are what the analyst waited, answered or not, over all page kinds.

The last line printed is one JSON object for the bench tracker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.dashboard import PASSWORD, fill  # noqa: E402
from bench.load_traffic import INGEST_SOURCE, USERNAME, Tally, run_load  # noqa: E402
from tests.processes import free_port  # noqa: E402

START_TIMEOUT = 180.0
# Longer than the supervisor's restart back-off of a crashed collector (up to 16 s).
STALL_SECONDS = 30.0


def prepare(data_dir: Path, alerts: int) -> tuple[str, list[str]]:
    """Alerts, analyst and ingest token; returns the token and some alert ids for details."""
    from core.accounts import create_user
    from core.accounts.models import Role
    from core.accounts.tokens import create_token
    from core.clock import SystemClock
    from core.config import load_settings
    from core.store.relational import create_db_engine, create_session_factory, migrate
    from core.store.sqlite_alerts import SqliteAlertStore
    from core.store.unit_of_work import unit_of_work

    settings = load_settings(environment="test", data_dir=data_dir)
    migrate(settings)
    with SqliteAlertStore(settings.alert_db_path) as store:
        seconds = fill(store, alerts)
    print(f"filled {alerts:,} alerts in {seconds:.1f} s", file=sys.stderr)
    with sqlite3.connect(settings.alert_db_path) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM alerts ORDER BY random() LIMIT 500")]
    engine = create_db_engine(settings)
    try:
        with unit_of_work(create_session_factory(engine)) as db:
            create_user(
                db=db, username=USERNAME, password=PASSWORD, role=Role.ANALYST, clock=SystemClock()
            )
            token = create_token(
                db=db,
                username=None,
                name=f"collector {INGEST_SOURCE}",
                scopes=["ingest"],
                source=INGEST_SOURCE,
                clock=SystemClock(),
                actor="bench",
            ).token
    finally:
        engine.dispose()
    return token, ids


def start_platform(
    data_dir: Path,
    http_port: int,
    syslog_port: int,
    ingest_port: int,
    overrides: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """`dijkwacht up` as an operator runs it, with this run's data dir and ports.

    `overrides` are `name=value` settings (`--set`), passed as `DIJKWACHT_NAME` variables, so
    an A/B of a setting runs the same command twice.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIJKWACHT_")}
    env |= {
        "DIJKWACHT_ENVIRONMENT": "test",
        "DIJKWACHT_DATA_DIR": str(data_dir),
        "DIJKWACHT_HTTP_PORT": str(http_port),
        "DIJKWACHT_SYSLOG_PORT": str(syslog_port),
        "DIJKWACHT_SYSLOG_TLS_PORT": str(free_port()),
        "DIJKWACHT_INGEST_HTTP_PORT": str(ingest_port),
        "DIJKWACHT_RELP_PORT": str(free_port()),
        "DIJKWACHT_RELP_TLS_PORT": str(free_port()),
        "DIJKWACHT_LOG_LEVEL": "WARNING",
    }
    for override in overrides:
        name, _, value = override.partition("=")
        env[f"DIJKWACHT_{name.strip().upper()}"] = value.strip()
    log = (data_dir / "up.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "dijkwacht", "up"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    wanted = {"api", "collector", "worker", "beat"}
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dijkwacht up exited with code {process.returncode}")
        try:
            body = httpx.get(f"{base}/health", timeout=2).json()
            states = body["components"].get("processes", {})
            if wanted <= {n for n, c in states.items() if c["state"] == "running"}:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise RuntimeError("the platform did not become healthy in time")


def stop_platform(process: subprocess.Popen[bytes]) -> int | None:
    """SIGINT (a clean stop of every child); the exit code, None when it had to be killed."""
    if process.poll() is not None:
        return process.returncode
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


def stored(event_db: Path, marker: str) -> tuple[int, int]:
    """(HTTP events, syslog lines) of this run in the event store, found by their marker."""
    conn = sqlite3.connect(f"file:{event_db}?mode=ro", uri=True, timeout=30)
    try:
        http, syslog = conn.execute(
            "SELECT sum(instr(body, ?) > 0), sum(instr(body, ?) > 0) FROM events",
            (f"{marker}h", f"{marker}s"),
        ).fetchone()
        return int(http or 0), int(syslog or 0)
    finally:
        conn.close()


def wait_drained(event_db: Path, marker: str, expected: int, timeout: float) -> tuple[int, int]:
    """Poll the stored counts until they reach `expected` or stop moving for STALL_SECONDS."""
    deadline = time.monotonic() + timeout
    last, still_since = (-1, -1), time.monotonic()
    while True:
        counts = stored(event_db, marker)
        if sum(counts) >= expected or time.monotonic() > deadline:
            return counts
        if counts != last:
            last, still_since = counts, time.monotonic()
        elif time.monotonic() - still_since > STALL_SECONDS:
            return counts
        time.sleep(1)


def crashes(data_dir: Path) -> int:
    """Restarts and failed children the supervisor recorded."""
    try:
        status = json.loads((data_dir / "run" / "supervisor.json").read_text())
    except (OSError, ValueError):
        return 1  # no status at all: the supervisor did not keep running
    children = status.get("children", {}).values()
    return sum(int(c.get("restarts", 0)) + (c.get("state") == "failed") for c in children)


def process_cpu(root: int) -> dict[str, float]:
    """CPU seconds so far of `root`'s child processes and their own children, by the child's
    command (Linux /proc; a Celery worker's pool processes count as the worker's).

    Printed for the load window so a slow run shows where the machine's two cores went.
    """
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    seconds: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        pid = int(stat.parent.name)
        parent[pid] = int(fields[1])
        seconds[pid] = (int(fields[11]) + int(fields[12])) / tick
    found: dict[str, float] = {}
    for pid, spent in seconds.items():
        top = pid
        while parent.get(top, 0) not in (root, 0, 1):
            top = parent[top]
        if parent.get(top) != root:
            continue
        try:
            words = (Path("/proc") / str(top) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        names = [w.decode() for w in words]
        name = next((w for w in ("uvicorn", "collect", "worker", "beat") if w in names), "other")
        found[name] = found.get(name, 0.0) + spent
    return found


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--alerts", type=int, default=300_000)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--think", type=float, default=0.5)
    parser.add_argument("--http-rate", type=float, default=1000)
    parser.add_argument("--http-batch", type=int, default=100)
    parser.add_argument("--syslog-rate", type=float, default=1000)
    parser.add_argument(
        "--ingest-url", default=None, help="Default: the collector's HTTP ingest listener."
    )
    parser.add_argument("--drain-timeout", type=float, default=180)
    parser.add_argument("--keep", action="store_true", help="Keep the data directory.")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A setting for the platform, e.g. --set collector_nice=0 (repeatable).",
    )
    args = parser.parse_args()
    args.marker = "lb" + uuid.uuid4().hex[:10]

    tmp = Path(tempfile.mkdtemp(prefix="dijkwacht-load-"))
    data_dir = tmp / "data"
    http_port, args.syslog_port, ingest_port = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{http_port}"
    # HTTP ingest is served by the collector process on its own port (docs/collectors.md).
    args.ingest_url = (
        args.ingest_url or f"http://127.0.0.1:{ingest_port}/api/ingest/{INGEST_SOURCE}"
    )
    token, ids = prepare(data_dir, args.alerts)
    platform = start_platform(data_dir, http_port, args.syslog_port, ingest_port, args.set)
    try:
        wait_healthy(base, platform)
        print(f"platform up (pid {platform.pid}); load for {args.seconds:.0f} s", file=sys.stderr)
        cpu_before, own_before = process_cpu(platform.pid), os.times()
        tally = asyncio.run(run_load(args, base, token, ids))
        cpu_after, own_after = process_cpu(platform.pid), os.times()
        spent = {k: round(v - cpu_before.get(k, 0.0), 1) for k, v in cpu_after.items()}
        spent["bench"] = round(
            sum(own_after[:4]) - sum(own_before[:4]), 1
        )  # this process and its ingest child (children's times count once they are reaped)
        print(f"CPU seconds during the load, by process: {spent}", file=sys.stderr)
        expected = tally.http_acked + tally.syslog_sent
        found = wait_drained(data_dir / "events.sqlite", args.marker, expected, args.drain_timeout)
        process_crashes = crashes(data_dir) + (platform.poll() is not None)
    finally:
        code = stop_platform(platform)
        if args.keep:
            print(f"data kept in {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(summarise(args, tally, found, process_crashes + (code != 0), code)))


def summarise(
    args: argparse.Namespace,
    tally: Tally,
    found: tuple[int, int],
    process_crashes: int,
    code: int | None,
) -> dict[str, Any]:
    """Print the human summary; return the tracker's JSON object."""
    http_stored, syslog_stored = found
    # The offer is the schedule, whatever the platform managed to take (see the docstring).
    http_offered = int(args.seconds * args.http_rate) // args.http_batch * args.http_batch
    syslog_offered = int(args.seconds * args.syslog_rate)
    offered = http_offered + syslog_offered
    value = min(http_stored, tally.http_acked) + min(syslog_stored, tally.syslog_sent)
    every = [ms for times in tally.pages.values() for ms in times]
    server_errors = (
        tally.page_failures
        + tally.http_failures
        + sum(
            n
            for statuses in (tally.page_statuses, tally.login_statuses, tally.http_statuses)
            for status, n in statuses.items()
            if status >= 500
        )
    )
    p50, p95, p99 = (percentile(every, q) for q in (0.5, 0.95, 0.99))
    out = sys.stderr
    print(
        f"pages: {len(every)} answers, p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms; "
        f"statuses {dict(sorted(tally.page_statuses.items()))}, no answer {tally.page_failures}; "
        f"failed logins {dict(sorted(tally.login_statuses.items()))}",
        file=out,
    )
    print(
        "p95 by page: "
        + ", ".join(f"{k} {percentile(v, 0.95):.0f} ms ({len(v)})" for k, v in tally.pages.items()),
        file=out,
    )
    print(
        f"HTTP ingest: offered {http_offered}, sent {tally.http_sent}, acknowledged "
        f"{tally.http_acked}, stored {http_stored}; statuses "
        f"{dict(sorted(tally.http_statuses.items()))}, no answer {tally.http_failures}, "
        f"waited for a free slot {tally.http_slot_waits} times",
        file=out,
    )
    print(
        f"syslog TCP: offered {syslog_offered}, sent {tally.syslog_sent}, stored "
        f"{syslog_stored}, connection lost or refused {tally.syslog_disconnects} times; "
        f"process crashes {process_crashes}, up exit code {code}",
        file=out,
    )
    return {
        "metric": "acked_fraction_under_load",
        "value": value,
        "baseline": offered,
        "ratio": round(value / offered, 4) if offered else 0.0,
        "target": 0.99,
        "server_errors": server_errors,
        "process_crashes": process_crashes,
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "p95_target_ms": 250,
        "p99_ms": round(p99, 1),
        "page_requests": len(every),
        "seconds": args.seconds,
        "alerts": args.alerts,
        "clients": args.clients,
        "http_offered": http_offered,
        "http_sent": tally.http_sent,
        "http_acked": tally.http_acked,
        "http_stored": http_stored,
        "http_slot_waits": tally.http_slot_waits,
        "syslog_offered": syslog_offered,
        "syslog_sent": tally.syslog_sent,
        "syslog_stored": syslog_stored,
        "syslog_disconnects": tally.syslog_disconnects,
        "clients_not_logged_in": tally.clients_not_logged_in,
    }


if __name__ == "__main__":
    main()
