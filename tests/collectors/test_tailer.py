"""File tailer: appends, both rotations, exact resume after restart and SIGKILL, bad lines."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from collectors.parsers import get_parser
from collectors.spool import Spool
from collectors.tailer import FileTailer, Position, build_tailers
from core.config import load_settings
from core.config_sections import TailFile
from core.errors import ConfigError
from tests.collectors.support import assert_ecs

REPO = Path(__file__).resolve().parents[2]


def line(n: int) -> bytes:
    return orjson.dumps({"timestamp": "2025-01-31T09:15:00Z", "n": n, "message": f"m{n}"}) + b"\n"


def write(path: Path, *numbers: int, mode: str = "ab") -> None:
    with path.open(mode) as handle:
        for n in numbers:
            handle.write(line(n))


def numbers(spool: Spool) -> list[int]:
    return [event["dijkwacht"]["json"]["n"] for _id, event in spool.take(1_000_000)]


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    opened = Spool(tmp_path / "spool.sqlite")
    yield opened
    opened.close()


def tailer(path: Path, spool: Spool, **kwargs: int) -> FileTailer:
    return FileTailer(path=path, parser=get_parser("json"), spool=spool, **kwargs)


def test_follows_appends_and_partial_line_waits(tmp_path: Path, spool: Spool) -> None:
    log = tmp_path / "app.log"
    write(log, 1, 2)
    tail = tailer(log, spool)
    assert tail.poll() == 2
    with log.open("ab") as handle:
        handle.write(line(3)[:10])  # no newline yet: the writer is mid-line
    assert tail.poll() == 0
    with log.open("ab") as handle:
        handle.write(line(3)[10:])
    write(log, 4)
    assert tail.poll() == 2
    assert numbers(spool) == [1, 2, 3, 4]
    for _id, event in spool.take(10):
        assert_ecs(event)
        assert event["dijkwacht"]["ingest"]["source"] == f"file:{log}"
    tail.close()


def test_rename_rotation_reads_old_tail_then_new_file(tmp_path: Path, spool: Spool) -> None:
    log = tmp_path / "app.log"
    write(log, 1)
    tail = tailer(log, spool)
    tail.poll()
    write(log, 2)  # written just before the rotation, not yet read
    log.rename(tmp_path / "app.log.1")
    write(tmp_path / "app.log.1", 3)  # the writer still has the old file open
    write(log, 4, 5)  # ...then reopens the path
    tail.poll()
    write(log, 6)
    tail.poll()
    assert numbers(spool) == [1, 2, 3, 4, 5, 6]
    tail.close()


def test_copytruncate_rotation_starts_again_at_zero(tmp_path: Path, spool: Spool) -> None:
    log = tmp_path / "app.log"
    write(log, 1, 2, 3)
    tail = tailer(log, spool)
    tail.poll()
    shutil.copy(log, tmp_path / "app.log.1")
    with log.open("r+b") as handle:
        handle.truncate(0)
    write(log, 4)
    tail.poll()
    write(log, 5)
    tail.poll()
    assert numbers(spool) == [1, 2, 3, 4, 5]
    tail.close()


def test_restart_resumes_exactly(tmp_path: Path, spool: Spool) -> None:
    log = tmp_path / "app.log"
    write(log, 1, 2, 3)
    first = tailer(log, spool)
    first.poll()
    first.close()
    write(log, 4, 5)
    second = tailer(log, spool)
    second.poll()
    assert numbers(spool) == [1, 2, 3, 4, 5]
    stat = log.stat()
    saved = Position.decode(spool.checkpoint(f"file:{log}"))
    assert saved == Position(stat.st_dev, stat.st_ino, stat.st_size)
    second.close()


def test_rotation_while_stopped_finishes_the_old_file_first(tmp_path: Path, spool: Spool) -> None:
    log = tmp_path / "app.log"
    write(log, 1)
    first = tailer(log, spool)
    first.poll()
    first.close()
    write(log, 2)
    log.rename(tmp_path / "app.log.1")
    write(log, 3)
    second = tailer(log, spool)
    second.poll()
    assert numbers(spool) == [1, 2, 3]
    second.close()


def test_oversized_line_is_dead_lettered_truncated(tmp_path: Path, spool: Spool) -> None:
    log = tmp_path / "app.log"
    write(log, 1)
    with log.open("ab") as handle:
        handle.write(b"x" * 300_000)  # runaway line still being written
    tail = tailer(log, spool, max_line=100_000)
    tail.poll()
    with log.open("ab") as handle:
        handle.write(b"y" * 200_000 + b"\n")
    write(log, 2)
    tail.poll()
    assert numbers(spool) == [1, 2]
    dead = [letter for _id, letter in spool.take_dead(10)]
    assert len(dead) == 1
    assert "line longer than 100000 bytes" in dead[0].reason
    assert dead[0].offset == len(line(1))
    assert len(dead[0].raw) <= 64 * 1024
    tail.close()
    # A restart inside the skipped line neither re-reads nor re-dead-letters it.
    write(log, 3)
    again = tailer(log, spool, max_line=100_000)
    again.poll()
    assert numbers(spool) == [1, 2, 3]
    assert len(spool.take_dead(10)) == 1
    again.close()


def test_parse_error_dead_letter_names_file_and_offset(tmp_path: Path, spool: Spool) -> None:
    log = tmp_path / "app.log"
    write(log, 1)
    with log.open("ab") as handle:
        handle.write(b'{"no timestamp": true}\n\xff\xfe not json\n')
    write(log, 2)
    tail = tailer(log, spool)
    tail.poll()
    assert numbers(spool) == [1, 2]
    dead = [letter for _id, letter in spool.take_dead(10)]
    assert [letter.offset for letter in dead] == [len(line(1)), len(line(1)) + 23]
    assert all(str(log) in letter.reason and "byte offset" in letter.reason for letter in dead)
    assert dead[0].raw == b'{"no timestamp": true}\n'
    tail.close()


def test_access_log_and_authlog_formats(tmp_path: Path, spool: Spool) -> None:
    access = tmp_path / "access.log"
    access.write_bytes(
        b'192.0.2.7 - - [31/Jan/2025:09:15:00 +0100] "GET /a?b=1 HTTP/1.1" 200 12 "-" "curl/8"\n'
    )
    auth = tmp_path / "auth.log"
    auth.write_bytes(
        b"Jan 31 09:15:00 web1 sshd[411]: Failed password for root from 192.0.2.9 port 22 ssh2\n"
    )
    for path, fmt in ((access, "nginx"), (auth, "authlog")):
        FileTailer(path=path, parser=get_parser(fmt), spool=spool).poll()
    events = [event for _id, event in spool.take(10)]
    assert [event["event"]["dataset"] for event in events] == ["nginx.access", "system.auth"]
    for event in events:
        assert_ecs(event)


def test_settings_list_files_and_unknown_format_is_named(tmp_path: Path, spool: Spool) -> None:
    settings = load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        tail_files=[{"path": str(tmp_path / "a.log"), "format": "nginx"}],
    )
    assert [t.source for t in build_tailers(settings=settings, spool=spool)] == [
        f"file:{tmp_path / 'a.log'}"
    ]
    bad = [TailFile(path=tmp_path / "a.log", format="nosuch")]
    with pytest.raises(ConfigError, match=r"tail_files\[0\]\.format: unknown parser"):
        build_tailers(settings=settings, spool=spool, files=bad)


def _start(spool_path: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "collectors.tailer", str(spool_path), f"{log}:json"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@pytest.mark.slow
def test_sigkill_mid_tail_loses_and_repeats_nothing(tmp_path: Path) -> None:
    """Kill -9 the tailer while lines (and a rotation) keep coming; restart; each line once."""
    spool_path = tmp_path / "spool.sqlite"
    log = tmp_path / "app.log"
    log.touch()
    total = 6000
    process = _start(spool_path, log)
    reader = Spool(spool_path)
    try:
        killed_at = None
        with log.open("ab", buffering=0) as handle:
            for n in range(total // 2):
                handle.write(line(n))
                if n % 100 == 99:
                    time.sleep(0.01)
                    if killed_at is None and reader.pending() >= 500:
                        process.send_signal(signal.SIGKILL)  # mid-tail: lines keep coming
                        killed_at = reader.pending()
                if killed_at is None and n == total // 2 - 1:
                    deadline = time.monotonic() + 30
                    while reader.pending() < 500 and time.monotonic() < deadline:
                        time.sleep(0.05)
                    process.send_signal(signal.SIGKILL)
                    killed_at = reader.pending()
        process.wait(timeout=10)
        assert killed_at is not None and 0 < killed_at < total
        log.rename(tmp_path / "app.log.1")  # rotated while the tailer is down
        with (tmp_path / "app.log.1").open("ab") as handle:
            handle.write(line(total // 2))
        write(log, *range(total // 2 + 1, total))
        process = _start(spool_path, log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and reader.pending() < total:
            time.sleep(0.1)
        time.sleep(0.3)  # a repeat would show up as more than `total`
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        seen = numbers(reader)
    finally:
        reader.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert len(seen) == total
    assert sorted(seen) == list(range(total))
