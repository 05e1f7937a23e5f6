"""Every syslog test vector in the corpus, compared with our reading.

Where we read a vector differently from its source, the id is listed below with the reason;
the test checks that the difference is exactly the listed one, so a silent change shows up.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from collectors.parsers import ParseError, Rfc3164Parser, Rfc5424Parser, SyslogParser
from collectors.parsers.timestamps import MONTHS
from core.clock import utc_iso
from tests.collectors.support import assert_ecs, corpus_file

RECEIVED = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)

# go-syslog RFC 5424 vectors we read differently.
GO_5424_ACCEPTED_THOUGH_INVALID = {
    # RFC 5424 §6.3.3: "\" followed by any other character is a regular character. go-syslog
    # refuses `\n` inside a PARAM-VALUE; we keep the backslash and accept the message.
    "rfc5424-116": {"meta": {"escape": "\\n"}},
}
# All 30 nonCompliantMsgTestCases (BOM followed by invalid UTF-8) are invalid only in
# go-syslog's "compliant MSG" mode; its default mode accepts them, and so do we, tagging the
# event invalid_utf8 and keeping the exact bytes in dijkwacht.original_base64.
# For valid vectors we differ only in `message`: a leading BOM is removed (it marks the
# encoding; event.original keeps it), and a non-UTF-8 MSG is decoded with U+FFFD replacement.

# rsyslog parsertest-parse1 records whose rsyslog output we do not reproduce.
RSYSLOG_DIFFERENT = {
    # rsyslog takes any first word after the hostname as TAG; we (like go-syslog, see
    # rfc3164-004/006) only take a word ending in ":" or "name[pid]:", else it is MSG.
    "rsyslog-parse1-05": "tag without colon",
    "rsyslog-parse1-11": "tag without colon",
    "rsyslog-parse1-12": "tag without colon",
    "rsyslog-parse1-13": "tag without colon",
    "rsyslog-parse1-21": "tag without colon",
    "rsyslog-parse1-22": "tag without colon",
    "rsyslog-parse1-27": "tag without colon",
    # No hostname in the message: rsyslog fills in its own ($RS_HOSTNAME); a parser cannot
    # know it, so host.hostname stays absent (the server may add observer fields later).
    "rsyslog-parse1-25": "no hostname",
    "rsyslog-parse1-26": "no hostname",
}
# rsyslog prints %timestamp% in the sender's own offset; our @timestamp is UTC.
RSYSLOG_SENDER_OFFSET = {"rsyslog-parse1-18": timedelta(hours=-7)}
RSYSLOG_SEVERITY = {"debug": 7, "info": 6, "notice": 5, "crit": 2}


def _records(name: str) -> list[dict[str, Any]]:
    path = corpus_file(f"syslog/{name}")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _raw(record: dict[str, Any]) -> bytes:
    return base64.b64decode(record["input_b64"])


def _get(event: dict[str, Any], path: str) -> Any:
    node: Any = event
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _expected_message(expected: dict[str, Any]) -> str | None:
    message = expected.get("message")
    if isinstance(message, dict):
        message = base64.b64decode(message["b64"]).decode("utf-8", errors="replace")
    if message is None:
        return None
    message = message.removeprefix("\ufeff")
    return message or None


def _bsd_parts(stamp: str) -> tuple[int, int, str]:
    month, day, clock = stamp.split()
    return MONTHS[month.lower()], int(day), clock


def _our_bsd_parts(event: dict[str, Any], offset: timedelta = timedelta(0)) -> tuple[int, int, str]:
    moment = datetime.fromisoformat(event["@timestamp"]).astimezone(timezone(offset))
    return moment.month, moment.day, moment.strftime("%H:%M:%S")


@pytest.mark.parametrize(
    "record", _records("go-syslog_rfc5424_cases.jsonl"), ids=lambda record: record["id"]
)
def test_go_syslog_rfc5424(record: dict[str, Any]) -> None:
    parser = Rfc5424Parser()
    raw = _raw(record)
    if record["group"] == "nonCompliantMsgTestCases":
        event = assert_ecs(parser.parse(raw, received_at=RECEIVED, source="test"))
        assert event["tags"] == ["invalid_utf8"]
        assert base64.b64decode(event["dijkwacht"]["original_base64"]) == raw
        return
    if not record["valid"] and record["id"] not in GO_5424_ACCEPTED_THOUGH_INVALID:
        with pytest.raises(ParseError):
            parser.parse(raw, received_at=RECEIVED, source="test")
        return
    event = assert_ecs(parser.parse(raw, received_at=RECEIVED, source="test"))
    if record["id"] in GO_5424_ACCEPTED_THOUGH_INVALID:
        assert (
            event["log"]["syslog"]["structured_data"]
            == GO_5424_ACCEPTED_THOUGH_INVALID[record["id"]]
        )
        return
    expected = record["expected"]
    syslog = event["log"]["syslog"]
    assert syslog["priority"] == expected["priority"]
    assert syslog["facility"]["code"] == expected["priority"] // 8
    assert syslog["severity"]["code"] == expected["priority"] % 8
    assert syslog["version"] == str(expected["version"])
    for key in ("hostname", "appname", "procid", "msgid"):
        assert syslog.get(key) == expected.get(key), key
    assert syslog.get("structured_data") == (expected.get("structured_data") or None)
    if "timestamp" in expected:
        stamp = expected["timestamp"].replace("Z", "+00:00")
        assert event["@timestamp"] == utc_iso(datetime.fromisoformat(stamp))
    else:
        assert event["@timestamp"] == utc_iso(RECEIVED)
    assert event.get("message") == _expected_message(expected)
    assert event["event"]["original"] == raw.decode("utf-8", errors="backslashreplace")


@pytest.mark.parametrize(
    "record", _records("go-syslog_rfc3164_cases.jsonl"), ids=lambda record: record["id"]
)
def test_go_syslog_rfc3164(record: dict[str, Any]) -> None:
    event = assert_ecs(
        Rfc3164Parser(tz=UTC).parse(_raw(record), received_at=RECEIVED, source="test")
    )
    expected = record["expected"]
    syslog = event["log"]["syslog"]
    assert syslog["priority"] == expected["priority"]
    assert syslog["facility"]["code"] == expected["facility"]
    assert syslog["severity"]["code"] == expected["severity"]
    assert _our_bsd_parts(event) == _bsd_parts(expected["timestamp"])
    assert syslog.get("hostname") == expected.get("hostname")
    assert event.get("host", {}).get("hostname") == expected.get("hostname")
    assert syslog.get("appname") == expected.get("appname")
    assert event.get("process", {}).get("name") == expected.get("appname")
    assert syslog.get("procid") == expected.get("procid")
    assert event.get("message") == expected.get("message")


@pytest.mark.parametrize(
    "record", _records("rsyslog_parsertest_parse1.jsonl"), ids=lambda record: record["id"]
)
def test_rsyslog_parse1(record: dict[str, Any]) -> None:
    event = assert_ecs(
        SyslogParser(tz=UTC).parse(
            record["input"].encode("utf-8"), received_at=RECEIVED, source="test"
        )
    )
    expected = record["expected"]
    syslog = event["log"]["syslog"]
    assert syslog["priority"] == expected["PRI"]
    assert syslog["facility"]["name"] == expected["syslogfacility-text"]
    assert syslog["severity"]["code"] == RSYSLOG_SEVERITY[expected["syslogseverity-text"]]
    offset = RSYSLOG_SENDER_OFFSET.get(record["id"], timedelta(0))
    assert _our_bsd_parts(event, offset) == _bsd_parts(expected["timestamp"])
    difference = RSYSLOG_DIFFERENT.get(record["id"])
    hostname = event.get("host", {}).get("hostname")
    if difference == "no hostname":
        assert hostname is None
        return
    assert hostname == expected["hostname"]
    rest = record["expected_rest"]
    message = event.get("message") or ""
    if difference == "tag without colon":
        assert "process" not in event
        # rsyslog split our MSG into TAG + MSG (or kept it whole with an empty TAG).
        first, _, remainder = message.strip().partition(" ")
        assert rest.endswith(message.strip()) or (
            rest.startswith(first) and rest.endswith(remainder)
        )
        return
    appname = event.get("process", {}).get("name", "")
    assert rest.startswith(f"{appname},")
    assert rest.endswith(message)


@pytest.mark.parametrize(
    "record", _records("rsyslog_fuzz_seed_messages.jsonl"), ids=lambda record: record["id"]
)
def test_rsyslog_fuzz_seeds_parse(record: dict[str, Any]) -> None:
    event = assert_ecs(
        SyslogParser(tz=UTC).parse(
            record["input"].encode("utf-8"), received_at=RECEIVED, source="test"
        )
    )
    assert event["event"]["original"] == record["input"]
