"""`dijkwacht ingest` and `dijkwacht search` through the real CLI app on a tmp data dir."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from core.config import get_settings
from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from dijkwacht.cli import app
from dijkwacht.commands.ingest.readers import MAX_LINE_BYTES


def event_line(minute: int, *, user: str, text: str, dataset: str = "system.auth") -> bytes:
    return orjson.dumps(
        {
            "@timestamp": f"2024-09-01T08:{minute:02d}:00Z",
            "event": {"kind": "event", "dataset": dataset, "original": text},
            "user": {"name": user},
            "source": {"ip": f"10.0.0.{minute}"},
            "process": {"pid": 100 + minute},
        }
    )


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(directory))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    # Small batches so a file spans several transactions.
    monkeypatch.setenv("DIJKWACHT_INGEST_BATCH_SIZE", "2")
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps at 80 columns otherwise
    get_settings.cache_clear()
    return directory


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    lines = [
        event_line(1, user="jan", text="login failed for jan"),
        event_line(2, user="anouk", text="login ok for anouk"),
        b"{not json",
        b"",
        orjson.dumps({"@timestamp": "2024-09-01T08:03:00Z", "event": {"kind": "event"}}),
        b"\xff\xfe not utf-8",
        event_line(4, user="jan", text="sudo session opened", dataset="linux.sudo"),
        event_line(5, user="sem", text="login failed for sem"),
    ]
    path = tmp_path / "sample.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_ingest_stores_good_lines_and_dead_letters_bad_ones(data_dir: Path, sample: Path) -> None:
    # Named: `auto` would pick `json`, which completes the event without a dataset.
    code, _, err = run("ingest", "--format", "ecs-json", str(sample))
    assert code == 0, err
    assert "stored 4 event(s), dead-lettered 3 line(s)" in err

    with SqliteEventStore(data_dir / "events.sqlite") as store:
        assert store.count(EventQuery()) == 4
        assert store.count(EventQuery(filters={"user.name": "jan"})) == 2
        letters = store.list_dead_letters()
    content = sample.read_bytes()
    assert [letter.reason.split(":")[0] for letter in letters] == ["line 3", "line 5", "line 6"]
    assert "bad JSON" in letters[0].reason
    assert "event.dataset: is required" in letters[1].reason
    assert "invalid UTF-8" in letters[2].reason
    for letter in letters:
        assert letter.source == str(sample)
        assert letter.offset is not None
        # The offset points at the start of the line that was kept.
        assert content[letter.offset : letter.offset + len(letter.raw)] == letter.raw


def test_ingest_dead_letters_runaway_line_without_keeping_it(
    data_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "huge.jsonl"
    path.write_bytes(b"x" * (MAX_LINE_BYTES + 5000) + b"\n" + event_line(1, user="a", text="t"))
    code, _, err = run("ingest", str(path))
    assert code == 0, err
    with SqliteEventStore(data_dir / "events.sqlite") as store:
        assert store.count(EventQuery()) == 1
        (letter,) = store.list_dead_letters()
    assert "longer than" in letter.reason
    assert letter.raw_length == MAX_LINE_BYTES + 5001


def test_ingest_exits_nonzero_when_nothing_could_be_read(data_dir: Path, tmp_path: Path) -> None:
    code, _, err = run("ingest", str(tmp_path / "missing.jsonl"))
    assert code == 1
    assert "missing.jsonl: cannot read" in err


def test_ingest_refuses_unknown_format(data_dir: Path, sample: Path) -> None:
    code, _, err = run("ingest", "--format", "evtx-someday", str(sample))
    assert code == 2
    assert "unknown format 'evtx-someday'" in err


def test_search_filters_text_and_json_output(data_dir: Path, sample: Path) -> None:
    assert run("ingest", str(sample))[0] == 0

    code, out, err = run("search", "--text", "login failed", "--json")
    assert code == 0, err
    found = [orjson.loads(line) for line in out.splitlines()]
    assert [item["event"]["user"]["name"] for item in found] == ["sem", "jan"]
    assert all(len(item["id"]) == 26 for item in found)

    code, out, _ = run("search", "--field", "user.name=jan", "--order", "asc", "--json")
    assert [orjson.loads(line)["event"]["process"]["pid"] for line in out.splitlines()] == [
        101,
        104,
    ]
    # A non-indexed numeric field matches its number; repeated paths mean "any of".
    code, out, _ = run(
        "search", "--field", "process.pid=105", "--field", "process.pid=102", "--json"
    )
    assert sorted(orjson.loads(line)["event"]["process"]["pid"] for line in out.splitlines()) == [
        102,
        105,
    ]
    # --from without a zone is read in Europe/Amsterdam (UTC+2 in September).
    code, out, _ = run("search", "--from", "2024-09-01T10:04", "--json")
    assert len(out.splitlines()) == 2


def test_search_table_and_bad_input(data_dir: Path, sample: Path) -> None:
    assert run("ingest", str(sample))[0] == 0
    code, out, _ = run("search", "--field", "event.dataset=linux.sudo")
    assert code == 0
    assert "1 of 1 event(s)" in out and "sudo session opened" in out

    code, _, err = run("search", "--from", "yesterday")
    assert code == 2 and "--from: not an ISO 8601 date-time" in err
    code, _, err = run("search", "--field", "user.name")
    assert code == 2 and "expected PATH=VALUE" in err


def test_event_the_store_refuses_is_dead_lettered_and_batch_kept(
    data_dir: Path, tmp_path: Path
) -> None:
    old = orjson.loads(event_line(2, user="old", text="from before the epoch"))
    old["@timestamp"] = "1960-01-01T00:00:00Z"  # valid ECS, but the store cannot index it
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                event_line(1, user="a", text="x"),
                orjson.dumps(old),
                event_line(3, user="b", text="y"),
            ]
        )
    )
    code, _, err = run("ingest", str(path))
    assert code == 0, err
    with SqliteEventStore(data_dir / "events.sqlite") as store:
        assert [e.event["user"]["name"] for e in store.search(EventQuery())] == ["b", "a"]
        (letter,) = store.list_dead_letters()
    assert letter.reason.startswith("line 2: refused by store: events[1].@timestamp")
