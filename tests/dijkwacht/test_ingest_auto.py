"""`dijkwacht ingest` without --format: real files are told apart by content.

The files come from the shared log corpus (fail2ban's sshd samples, web access logs, syslog
vectors, pcaps) and from `dijkwacht demo generate`, the demo's own output.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from dijkwacht.cli import app
from dijkwacht.commands.ingest.formats import sniff_file
from tests.conftest import CORPUS_DIR
from tests.dijkwacht.test_events_cli import data_dir, run
from tests.dijkwacht.test_ingest_formats import LINES

__all__ = ["data_dir"]  # the fixture, shared

LOGS = CORPUS_DIR / "logs"
# The corpus lives beside the repository; a clone elsewhere has none (like the EVTX tests).
pytestmark = pytest.mark.skipif(not LOGS.is_dir(), reason=f"log corpus not found at {LOGS}")


def _stored(data_dir: Path) -> tuple[int, int]:
    with SqliteEventStore(data_dir / "events.sqlite") as store:
        return store.count(EventQuery()), len(store.list_dead_letters(limit=10_000))


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("logs/fail2ban/sshd", "authlog"),
        ("logs/fail2ban/sshd-journal", "authlog"),
        ("logs/fail2ban/pam-generic", "authlog"),
        ("logs/fail2ban/dropbear", "authlog"),
        ("logs/access/elastic-examples/apache_logs", "apache"),
        ("logs/access/secrepo/access.log.2021-10-22", "nginx"),
        ("logs/fail2ban/nginx-bad-request", "nginx"),
        ("pcap/zeek/wikipedia.pcap", "pcap"),
        ("pcap/chrissanders/dns_lab.pcapng", "pcap"),
    ],
)
def test_corpus_files_are_recognised(relative: str, expected: str, tmp_path: Path) -> None:
    sniffed = sniff_file(CORPUS_DIR / relative)
    assert sniffed is not None and sniffed.format == expected
    # By content, not by name: only apache vs nginx (same log format) takes a hint from it.
    renamed = tmp_path / "no-extension"
    shutil.copyfile(CORPUS_DIR / relative, renamed)
    again = sniff_file(renamed)
    assert again is not None
    assert again.format == ("nginx" if expected == "apache" else expected)


def test_syslog_vectors_as_a_log_file_are_syslog(tmp_path: Path) -> None:
    """The valid RFC 5424 and RFC 3164 inputs of go-syslog, written one per line."""
    for name in ("go-syslog_rfc5424_cases.jsonl", "go-syslog_rfc3164_cases.jsonl"):
        records = [json.loads(line) for line in (LOGS / "syslog" / name).read_text().splitlines()]
        raws = [base64.b64decode(r["input_b64"]) for r in records if r["valid"]]
        path = tmp_path / name.replace(".jsonl", ".log")
        path.write_bytes(b"\n".join(raw for raw in raws if b"\n" not in raw) + b"\n")
        sniffed = sniff_file(path)
        assert sniffed is not None and sniffed.format == "syslog", name


@pytest.mark.parametrize("fmt", ["json", "app-audit-json", "app-audit-csv", "authlog", "syslog"])
def test_small_samples_of_each_text_format(fmt: str, tmp_path: Path) -> None:
    path = tmp_path / "input"
    path.write_bytes(LINES[fmt].split(b"\n")[0] + b"\n" if fmt == "syslog" else LINES[fmt])
    sniffed = sniff_file(path)
    assert sniffed is not None and sniffed.format == fmt


def test_demo_output_ingests_without_a_format(data_dir: Path, tmp_path: Path) -> None:
    world = tmp_path / "world"
    result = CliRunner().invoke(app, ["demo", "generate", "--output", str(world), "--days", "1"])
    assert result.exit_code == 0, result.stderr
    names = ["auth.log", "nginx_access.log", "portal_auth.jsonl", "app_audit.jsonl"]
    files = [world / name for name in names]
    lines = sum(len(path.read_bytes().splitlines()) for path in files)
    code, _, err = run("ingest", *map(str, files))
    assert code == 0, err
    assert "auth.log: read as authlog" in err
    assert "nginx_access.log: read as nginx" in err
    assert "portal_auth.jsonl: read as json" in err
    assert "app_audit.jsonl: read as app-audit-json" in err
    assert _stored(data_dir) == (lines, 0)
    code, out, _ = run("search", "--field", "host.name=web01", "--text", "Invalid user", "--json")
    assert code == 0 and out.strip()


def test_a_file_it_cannot_tell_is_refused_with_the_choices(data_dir: Path) -> None:
    vectors = LOGS / "syslog" / "rsyslog_parsertest_parse1.jsonl"  # JSON, but not events
    code, _, err = run("ingest", str(vectors))
    assert code == 1
    assert "cannot tell its format" in err and "--format" in err
    assert "authlog" in err and "app-audit-csv" in err
    assert _stored(data_dir) == (0, 0)  # nothing dead-lettered under a wrong guess


def test_nothing_stored_exits_nonzero_with_a_hint(data_dir: Path) -> None:
    code, _, err = run(
        "ingest", "--format", "syslog", str(LOGS / "access/secrepo/access.log.2021-10-22")
    )
    assert code == 1
    assert "no line could be read as syslog" in err
    assert "--format nginx" in err
    stored, dead = _stored(data_dir)
    assert stored == 0 and dead > 0


def test_runaway_first_line_does_not_hide_the_format(tmp_path: Path) -> None:
    path = tmp_path / "auth"
    path.write_bytes(b"x" * 200_000 + b"\n" + LINES["authlog"] * 3)
    sniffed = sniff_file(path)
    assert sniffed is not None and sniffed.format == "authlog"
