"""Fault tests against a real `dijkwacht collect` process: it pauses, resumes and loses nothing.

- Disk full: the data directory is a small tmpfs (`mount -t tmpfs -o size=...`, which needs
  root, as in CI); a filler file takes every free block, TCP syslog lines are offered, the
  sender must stall (back-pressure, not drops), the filler is deleted, and every line sent is
  stored exactly once. Where mounting is not permitted the test is skipped with the reason.
- Locked: another process holds `BEGIN IMMEDIATE` on `events.sqlite` for 45 s (longer than
  the store's 10 s busy timeout) while lines arrive; they wait in the spool, the consumer
  pauses, the process stays alive and resumes. (A locked spool pauses the writer the same way:
  tests/collectors/test_pause.py.)
- Read-only data directory at start: `collect` and `up` stop with one message naming
  `data_dir`, the path and the reason; no traceback.
"""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.runtime import read_status_file
from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from tests.collectors.net import rfc5424, wait_for
from tests.conftest import REPO_ROOT
from tests.processes import child_env, free_port

pytestmark = pytest.mark.slow

LINES = 30_000
LOCK_SECONDS = 45


@contextmanager
def tmpfs(path: Path, *, size: str, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs at `path` for the test's duration, or skip when this machine cannot mount."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0700" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "dijkwacht-test", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextmanager
def collector(data_dir: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = child_env(data_dir=data_dir, syslog_port=port, environment="test", ingest_batch_size=500)
    with log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "dijkwacht", "collect", "--no-detection"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith(b"collect: ready"), line + log.read_bytes()
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


class Sender(threading.Thread):
    """Sends `total` numbered RFC 5424 lines over one TCP connection, then closes it."""

    def __init__(self, port: int, total: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.total = total
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with socket.create_connection(("127.0.0.1", self.port)) as conn:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
                while self.sent < self.total:
                    upto = min(self.sent + 100, self.total)
                    conn.sendall(b"".join(rfc5424(n) + b"\n" for n in range(self.sent, upto)))
                    self.sent = upto
                conn.shutdown(socket.SHUT_WR)
                conn.recv(1)  # the collector closes after reading everything
        except BaseException as exc:
            self.error = exc


def stalled(sender: Sender, *, quiet: float = 1.5) -> int | None:
    """`sender.sent` if it did not move for `quiet` seconds, else None."""
    before = sender.sent
    time.sleep(quiet)
    return before if sender.sent == before and before else None


def stored_seqs(data_dir: Path) -> Counter[int]:
    seqs: Counter[int] = Counter()
    with SqliteEventStore(data_dir / "events.sqlite") as store:
        total = store.count(EventQuery())
        offset = 0
        while offset < total:
            page = store.search(EventQuery(limit=10_000, offset=offset, order="asc"))
            seqs.update(int(e.event["message"].removeprefix("seq=")) for e in page)
            offset += len(page)
    return seqs


def stored_count(data_dir: Path) -> int:
    """A plain read: opening the store itself would wait for the write lock (schema check)."""
    conn = sqlite3.connect(f"file:{data_dir / 'events.sqlite'}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def collector_state(data_dir: Path) -> dict:
    return read_status_file(data_dir / "run" / "collector.json") or {}


def fill(directory: Path) -> Path:
    """Take every free block of the file system under `directory` (unbuffered writes)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1024 * 1024, 4096, 1):
            block = b"\0" * size
            while True:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


def log_lines(log: Path, needle: str) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines() if needle in line]


def test_disk_full_pauses_ingest_and_every_line_is_stored_once_after_space_is_freed(
    tmp_path: Path,
) -> None:
    log = tmp_path / "collect.log"
    port = free_port()
    with tmpfs(tmp_path / "data", size="64m") as data_dir:
        with collector(data_dir, port, log) as process:
            filler = fill(data_dir)
            sender = Sender(port, LINES)
            sender.start()
            wait_for(
                lambda: "spool-writer" in collector_state(data_dir).get("paused", {}),
                timeout=30,
                what="the collector to publish its pause",
            )
            reason = collector_state(data_dir)["paused"]["spool-writer"]["reason"]
            assert reason.startswith(f"data_dir={data_dir}: ") and "disk full" in reason
            # The kernel buffers fill, then the sender blocks: back-pressure, nothing dropped.
            stalled_at = wait_for(lambda: stalled(sender), timeout=30, what="the sender to stall")
            assert stalled_at < LINES, "the sender was not held back"
            time.sleep(2)
            assert sender.sent == stalled_at
            assert process.poll() is None

            filler.unlink()
            sender.join(60)
            assert sender.error is None and sender.sent == LINES
            wait_for(lambda: stored_count(data_dir) >= LINES, timeout=60, what="all stored")
            wait_for(
                lambda: collector_state(data_dir).get("state") == "running",
                timeout=30,
                what="the collector to publish that it resumed",
            )
            assert process.poll() is None
        assert process.returncode == 0
        seqs = stored_seqs(data_dir)
    assert set(seqs) == set(range(LINES)) and max(seqs.values()) == 1  # all, and each once
    paused = log_lines(log, "spool-writer paused:")
    assert len(paused) == 1, log.read_text()
    assert f"data_dir={data_dir}: disk full" in paused[0] and "retrying in 1 s" in paused[0]
    assert len(log_lines(log, "spool-writer resumed after")) == 1
    assert "Traceback" not in log.read_text()


def hold_locks(paths: list[Path], seconds: int) -> subprocess.Popen[bytes]:
    """Another process holding the write lock of each SQLite file; prints `locked` when held."""
    script = (
        "import sqlite3, sys, time\n"
        "conns = [sqlite3.connect(p, isolation_level=None) for p in sys.argv[2:]]\n"
        "for c in conns: c.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[1]))\n"
        "for c in conns: c.execute('ROLLBACK')\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(seconds), *map(str, paths)], stdout=subprocess.PIPE
    )
    assert process.stdout is not None and process.stdout.readline() == b"locked\n"
    return process


def test_databases_locked_by_another_process_for_45_s_pause_and_resume(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "collect.log"
    port = free_port()
    total = 5_000
    with collector(data_dir, port, log) as process:
        wait_for(lambda: (data_dir / "events.sqlite").exists(), what="the event store")
        locker = hold_locks([data_dir / "events.sqlite"], LOCK_SECONDS)
        started = time.monotonic()
        try:
            sender = Sender(port, total)
            sender.start()
            wait_for(
                lambda: "consumer" in collector_state(data_dir).get("paused", {}),
                timeout=30,
                what="the consumer to pause on the locked event store",
            )
            reason = collector_state(data_dir)["paused"]["consumer"]["reason"]
            assert reason == f"data_dir={data_dir}: database is locked by another process " + (
                "(busy timeout ran out)"
            )
            assert process.poll() is None
            sender.join(30)  # the spool still takes input while the store is locked
            assert sender.error is None and sender.sent == total
            assert stored_count(data_dir) == 0
        finally:
            locker.wait(LOCK_SECONDS + 10)
        assert time.monotonic() - started >= LOCK_SECONDS - 1
        sender.join(60)
        assert sender.error is None and sender.sent == total
        wait_for(lambda: stored_count(data_dir) >= total, timeout=60, what="all stored")
        wait_for(lambda: collector_state(data_dir).get("state") == "running", timeout=30,
                 what="the pause to end")  # fmt: skip
        assert process.poll() is None
    assert process.returncode == 0
    seqs = stored_seqs(data_dir)
    assert set(seqs) == set(range(total)) and max(seqs.values()) == 1
    text = log.read_text()
    assert len(log_lines(log, "consumer paused:")) == 1, text
    assert len(log_lines(log, "consumer resumed after")) == 1, text
    assert "Traceback" not in text


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = child_env(data_dir=data_dir, environment="test", syslog_port=free_port(),
                    http_port=free_port())  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "dijkwacht", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


READ_ONLY = "cannot write to it (read-only file system, EROFS)"


@pytest.mark.parametrize(
    ("command", "code", "problem"),
    [
        (["collect", "--no-detection"], 2, READ_ONLY),
        (["up"], 2, READ_ONLY),
        (["serve"], 2, READ_ONLY),
        # Any other command that opens a database there: one line from the CLI, exit 1.
        (["deadletters", "list"], 1, "read-only file system (EROFS)"),
    ],
)
def test_read_only_data_dir_at_start_is_one_clear_message(
    tmp_path: Path, command: list[str], code: int, problem: str
) -> None:
    with tmpfs(tmp_path / "data", size="1m", read_only=True) as data_dir:
        result = _run(command, data_dir)
    assert result.returncode == code, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if "data_dir=" in line]
    assert len(lines) == 1 and lines[0].endswith(f"data_dir={data_dir}: {problem}"), result.stderr
    assert "Traceback" not in result.stderr
