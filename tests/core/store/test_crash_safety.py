"""A SIGKILLed writer loses no committed batch and leaves no partial one."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BATCH_SIZE = 1500

# Prints "start N" before and "done N" after each committed batch, flushing each line, so the
# test knows exactly which batches were acknowledged when it kills the process.
WRITER = r"""
import sys
from pathlib import Path
from core.store.sqlite_events import SqliteEventStore

path, batch, size = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
store = SqliteEventStore(path)
padding = "lorem ipsum dolor " * 12
while True:
    events = [
        {
            "@timestamp": f"2024-09-01T08:{batch % 60:02d}:{row % 60:02d}.{row:03d}Z",
            "event": {
                "kind": "event",
                "dataset": "crash.test",
                "original": f"batchtok{batch} row{row} {padding}",
            },
            "host": {"name": f"host-{row % 7}"},
            "labels": {"batch": batch, "row": row},
        }
        for row in range(size)
    ]
    print(f"start {batch}", flush=True)
    store.add_batch(events)
    print(f"done {batch}", flush=True)
    batch += 1
"""


def run_and_kill(db: Path, first_batch: int, *, kill_after_start: int, delay_s: float) -> set[int]:
    """Run the writer until batch `first + kill_after_start` has started, SIGKILL it, return
    the batch numbers it reported as committed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), str(first_batch), str(BATCH_SIZE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.stdout is not None
    done: set[int] = set()
    target = first_batch + kill_after_start
    deadline = time.monotonic() + 60
    try:
        for line in proc.stdout:
            word, number = line.split()
            if word == "done":
                done.add(int(number))
            if word == "start" and int(number) >= target:
                time.sleep(delay_s)  # lands inside the INSERT transaction of this batch
                break
            assert time.monotonic() < deadline, "writer too slow"
        else:
            pytest.fail(f"writer ended early: {proc.stderr.read() if proc.stderr else ''}")
        os.kill(proc.pid, signal.SIGKILL)
        # Lines already in the pipe were flushed after their commit: they count as reported.
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for line in rest.splitlines():
        word, number = line.split()
        if word == "done":
            done.add(int(number))
    assert proc.returncode == -signal.SIGKILL
    return done


def batch_counts(db: Path) -> dict[int, int]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.execute("INSERT INTO events_fts (events_fts) VALUES ('integrity-check')")
        return {
            int(batch): count
            for batch, count in conn.execute(
                "SELECT json_extract(body, '$.labels.batch'), count(*) FROM events GROUP BY 1"
            )
        }
    finally:
        conn.close()


def fts_count(db: Path, batch: int) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(
            conn.execute(
                "SELECT count(*) FROM events_fts WHERE events_fts MATCH ?", (f"batchtok{batch}",)
            ).fetchone()[0]
        )
    finally:
        conn.close()


@pytest.mark.slow
def test_sigkill_loses_no_committed_batch_and_leaves_no_partial_one(tmp_path: Path) -> None:
    db = tmp_path / "events.sqlite"
    reported: set[int] = set()
    next_batch = 0
    # Several rounds on the same file: each restart must also recover the previous hot WAL.
    for round_no, delay in enumerate((0.0, 0.02, 0.06)):
        reported |= run_and_kill(db, next_batch, kill_after_start=4 + round_no, delay_s=delay)
        counts = batch_counts(db)

        missing = sorted(b for b in reported if counts.get(b) != BATCH_SIZE)
        assert not missing, f"committed batches lost or incomplete: {missing}"
        partial = {b: n for b, n in counts.items() if n != BATCH_SIZE}
        assert not partial, f"partial batches found: {partial}"
        # Batches are written in order: what is stored is a gap-free prefix.
        assert sorted(counts) == list(range(len(counts)))
        assert max(counts) >= max(reported)
        for batch in (min(reported), max(reported)):
            assert fts_count(db, batch) == BATCH_SIZE
        next_batch = max(counts) + 1
    assert len(reported) >= 12
