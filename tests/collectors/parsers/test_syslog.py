"""Syslog details the vectors do not pin down, plus property tests."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.parsers import ParseError, Rfc3164Parser, Rfc5424Parser, SyslogParser
from core.clock import utc_iso
from tests.collectors.support import assert_ecs

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _parse(raw: bytes, received_at: datetime, **options: object) -> dict:
    return assert_ecs(SyslogParser(**options).parse(raw, received_at=received_at, source="t"))  # type: ignore[arg-type]


def test_new_year_rollover_puts_late_december_in_last_year() -> None:
    event = _parse(b"<13>Dec 31 23:59:58 host app: x", datetime(2025, 1, 1, 0, 0, 5, tzinfo=UTC))
    assert event["@timestamp"] == "2024-12-31T23:59:58.000Z"


def test_sender_slightly_ahead_at_new_year_is_next_year() -> None:
    event = _parse(
        b"<13>Jan  1 00:00:03 host app: x", datetime(2024, 12, 31, 23, 59, 50, tzinfo=UTC)
    )
    assert event["@timestamp"] == "2025-01-01T00:00:03.000Z"


def test_old_lines_keep_their_year() -> None:
    event = _parse(b"<13>Mar  3 10:00:00 host app: x", datetime(2024, 6, 1, tzinfo=UTC))
    assert event["@timestamp"] == "2024-03-03T10:00:00.000Z"


def test_bsd_time_is_read_in_the_configured_zone() -> None:
    event = _parse(
        b"<13>Jul  1 12:00:00 host app: x", datetime(2024, 7, 2, tzinfo=UTC), tz=AMSTERDAM
    )
    assert event["@timestamp"] == "2024-07-01T10:00:00.000Z"


def test_feb_29_needs_a_leap_year() -> None:
    event = _parse(b"<13>Feb 29 12:00:00 host app: x", datetime(2025, 3, 1, tzinfo=UTC))
    assert event["@timestamp"].startswith("2024-02-29")  # 2025 has none; 2024 does
    with pytest.raises(ParseError) as error:
        _parse(b"<13>Feb 30 12:00:00 host app: x", datetime(2025, 3, 1, tzinfo=UTC))
    assert error.value.field == "@timestamp"


def test_3164_tag_pid_hostname_and_bom_free_5424_message() -> None:
    event = _parse(
        b"<38>Feb  7 15:10:42 web01 sshd[4711]: Accepted\n", datetime(2024, 3, 1, tzinfo=UTC)
    )
    assert event["host"]["hostname"] == "web01"
    assert event["process"] == {"name": "sshd", "pid": 4711}
    assert event["message"] == "Accepted"
    assert event["log"]["syslog"]["facility"]["name"] == "auth"
    assert event["log"]["syslog"]["severity"]["name"] == "Informational"
    event = _parse("<14>1 - - - - - - \ufeffhallo".encode(), datetime(2024, 3, 1, tzinfo=UTC))
    assert event["message"] == "hallo"
    assert event["event"]["original"].endswith("\ufeffhallo")


def test_3164_without_hostname_when_first_word_is_a_tag() -> None:
    event = _parse(b"<13>Feb  7 15:10:42 cron[12]: job", datetime(2024, 3, 1, tzinfo=UTC))
    assert "host" not in event
    assert event["process"]["name"] == "cron"


def test_structured_data_escapes_and_repeated_params() -> None:
    raw = rb'<1>1 - - - - - [a@1 q="\"" b="\\" c="\]" d="x\y" r="1" r="2"] m'
    event = _parse(raw, datetime(2024, 3, 1, tzinfo=UTC))
    assert event["log"]["syslog"]["structured_data"] == {
        "a@1": {"q": '"', "b": "\\", "c": "]", "d": "x\\y", "r": ["1", "2"]}
    }


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"<192>1 - - - - - -", "log.syslog.priority"),
        (b"<1>1 2024-01-01T00:00:00 - - - - -", "@timestamp"),
        (b"<1>1 - - - - - [x a=b]", "log.syslog.structured_data"),
        (b"just text", "message"),
        (b"", "message"),
    ],
)
def test_errors_name_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(ParseError) as error:
        SyslogParser().parse(raw, received_at=datetime(2024, 1, 1, tzinfo=UTC), source="t")
    assert error.value.field == field


def test_naive_received_at_is_refused() -> None:
    with pytest.raises(ParseError) as error:
        SyslogParser().parse(b"<1>1 - - - - - -", received_at=datetime(2024, 1, 1), source="t")
    assert error.value.field == "received_at"


RECEIVED = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_parse_error(raw: bytes) -> None:
    for parser in (SyslogParser(), Rfc5424Parser(), Rfc3164Parser()):
        with contextlib.suppress(ParseError):
            assert_ecs(parser.parse(raw, received_at=RECEIVED, source="t"))


@settings(max_examples=300)
@given(
    st.from_regex(r"<(0|[1-9]\d?|1[0-8]\d|19[01])>[1-9]\d{0,2} .{0,80}", fullmatch=True).map(
        str.encode
    )
)
def test_5424_shaped_text_only_raises_parse_error(raw: bytes) -> None:
    with contextlib.suppress(ParseError):
        assert_ecs(SyslogParser().parse(raw, received_at=RECEIVED, source="t"))


_printable = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20)
_sd_name = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters='="] '),
    min_size=1,
    max_size=32,
)
_sd_value = st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


@settings(max_examples=300)
@given(
    priority=st.integers(0, 191),
    version=st.integers(1, 999),
    moment=st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.just(UTC)
    ),
    offset_minutes=st.integers(-23 * 60 - 59, 23 * 60 + 59),
    hostname=st.none() | _printable.filter(lambda v: v != "-"),
    appname=st.none() | _printable.filter(lambda v: v != "-"),
    procid=st.none() | _printable.filter(lambda v: v != "-"),
    msgid=st.none() | _printable.filter(lambda v: v != "-"),
    sd=st.dictionaries(_sd_name, st.dictionaries(_sd_name, _sd_value, max_size=3), max_size=3),
    message=st.text(st.characters(blacklist_categories=["Cs"]), max_size=50),
)
def test_5424_round_trip(
    priority: int,
    version: int,
    moment: datetime,
    offset_minutes: int,
    hostname: str | None,
    appname: str | None,
    procid: str | None,
    msgid: str | None,
    sd: dict[str, dict[str, str]],
    message: str,
) -> None:
    from datetime import timezone

    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    stamp = local.isoformat(timespec="microseconds")
    sd_text = (
        "".join(
            f"[{sd_id}" + "".join(f' {k}="{_escape(v)}"' for k, v in params.items()) + "]"
            for sd_id, params in sd.items()
        )
        or "-"
    )
    header = " ".join(value or "-" for value in (hostname, appname, procid, msgid))
    text = f"<{priority}>{version} {stamp} {header} {sd_text}"
    if message:
        text += f" {message}"
    event = assert_ecs(Rfc5424Parser().parse(text.encode(), received_at=RECEIVED, source="t"))
    syslog = event["log"]["syslog"]
    assert syslog["priority"] == priority
    assert syslog["version"] == str(version)
    assert event["@timestamp"] == utc_iso(moment)
    assert syslog.get("hostname") == hostname
    assert syslog.get("appname") == appname
    assert syslog.get("procid") == procid
    assert syslog.get("msgid") == msgid
    assert syslog.get("structured_data", {}) == sd
    expected_message = message.rstrip("\r\n\x00").removeprefix("\ufeff") or None
    if message[-1:] not in ("\n", "\r", "\x00"):
        expected_message = message.removeprefix("\ufeff") or None
    assert event.get("message") == expected_message


_field = st.sampled_from(["-", "web-01", "sshd", "4242", "ID47", "x" * 49, "é", "a b", ""])


@settings(max_examples=500)
@given(
    st.builds(
        "<{}>{} {} {} {} {} {} {}{}".format,
        st.sampled_from(["0", "34", "191", "192", "999", "034", "x"]),
        st.sampled_from(["1", "0", "12", "1000"]),
        st.sampled_from(["2025-01-31T09:15:00.123Z", "-", "", "2025-13-01T00:00:00Z", "\t"]),
        _field,
        _field,
        _field,
        _field,
        st.sampled_from(["-", '[a b="c"]', "-x", "", "- "]),
        st.text(max_size=20) | st.sampled_from(["", " ", " \ufeffmsg", " msg\n"]),
    )
)
def test_fast_path_splits_exactly_as_the_strict_path(text: str) -> None:
    """`split_common_5424` is an optimisation: where it answers, the strict split agrees.

    The strict split also checks the TIMESTAMP (its error comes first there); the fast path
    leaves that to the parser, which then raises the same error.
    """
    from collectors.parsers.syslog import _timestamp, split_common_5424

    fast = split_common_5424(text)
    if fast is None:
        return
    try:
        strict = Rfc5424Parser().split(text)
    except ParseError as exc:
        assert exc.field == "@timestamp"
        with pytest.raises(ParseError) as again:
            _timestamp(fast.timestamp)
        assert str(again.value) == str(exc)
        return
    assert fast == strict


def test_common_messages_take_the_fast_path() -> None:
    from collectors.parsers.syslog import split_common_5424

    parts = split_common_5424(
        "<34>1 2025-01-31T09:15:00.123Z web-01 sshd 4242 ID47 - Failed password for jan"
    )
    assert parts is not None
    assert (parts.priority, parts.hostname, parts.procid) == (34, "web-01", "4242")
    assert parts.message == "Failed password for jan"
    assert split_common_5424('<34>1 - - - - - [a b="c"] msg') is None  # structured data
    assert split_common_5424("<192>1 - - - - - -") is None  # PRI out of range: strict error
