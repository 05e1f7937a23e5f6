"""Access logs: the corpus files, field mapping and arbitrary input."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.parsers import AccessLogParser, ParseError, get_parser
from tests.collectors.support import assert_ecs, corpus_file

RECEIVED = datetime(2024, 1, 1, tzinfo=UTC)
TRUNCATED_LINE = 8899  # the corpus README: user agent missing its closing `)"`


@pytest.mark.parametrize(
    "name",
    [
        "access/elastic-examples/apache_logs",
        "access/secrepo/access.log.2021-10-22",
        "access/secrepo/access.log.2022-12-22",
    ],
)
def test_corpus_access_logs(name: str) -> None:
    parser = AccessLogParser(flavour="apache")
    lines = corpus_file(name).read_bytes().splitlines(keepends=True)
    statuses: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if name.endswith("apache_logs") and number == TRUNCATED_LINE:
            with pytest.raises(ParseError):
                parser.parse(line, received_at=RECEIVED, source="t")
            continue
        event = assert_ecs(parser.parse(line, received_at=RECEIVED, source="t"))
        assert event["event"]["original"] == line.decode().rstrip("\n")
        assert "ip" in event["source"]
        outcome = event["event"]["outcome"]
        statuses[outcome] = statuses.get(outcome, 0) + 1
    if name.endswith("apache_logs"):
        # README: 2xx 9170 + 3xx 609 succeed, 4xx 217 + 5xx 3 fail; plus the truncated line.
        assert statuses == {"success": 9779, "failure": 220}


def test_combined_line_mapping() -> None:
    line = (
        b'203.0.113.9 - alice [17/May/2015:10:05:03 +0200] "GET /a/b.php?x=1&y=2 HTTP/1.1" '
        b'404 512 "https://ref.example/" "curl/8.0"\n'
    )
    event = assert_ecs(get_parser("nginx").parse(line, received_at=RECEIVED, source="t"))
    assert event["@timestamp"] == "2015-05-17T08:05:03.000Z"
    assert event["event"]["dataset"] == "nginx.access"
    assert event["event"]["category"] == ["web"]
    assert event["event"]["outcome"] == "failure"
    assert event["source"]["ip"] == "203.0.113.9"
    assert event["user"]["name"] == "alice"
    assert event["url"] == {"original": "/a/b.php?x=1&y=2", "path": "/a/b.php", "query": "x=1&y=2"}
    assert event["http"] == {
        "request": {"method": "GET", "referrer": "https://ref.example/"},
        "response": {"status_code": 404, "body": {"bytes": 512}},
        "version": "1.1",
    }
    assert event["user_agent"]["original"] == "curl/8.0"


def test_common_format_and_junk_request_line() -> None:
    event = assert_ecs(
        get_parser("apache").parse(
            b'12.34.56.78 - - [20/Jan/2015:19:53:28 +0100] "\\x03\\x00Cookie: x" 400 -',
            received_at=RECEIVED,
            source="t",
        )
    )
    assert event["url"] == {"original": "\\x03\\x00Cookie: x"}
    assert "method" not in event["http"].get("request", {})
    assert "body" not in event["http"]["response"]


@pytest.mark.parametrize("name", ["nginx-bad-request", "apache-badbots", "php-url-fopen"])
def test_fail2ban_access_samples(name: str) -> None:
    parser = AccessLogParser()
    for line in corpus_file(f"fail2ban/{name}").read_bytes().splitlines():
        if line.strip() and not line.startswith(b"#"):
            assert_ecs(parser.parse(line, received_at=RECEIVED, source="t"))


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_parse_error(raw: bytes) -> None:
    with contextlib.suppress(ParseError):
        assert_ecs(AccessLogParser().parse(raw, received_at=RECEIVED, source="t"))


@settings(max_examples=300)
@given(
    ip=st.ip_addresses().map(str),
    method=st.sampled_from(["GET", "POST", "HEAD", "PROPFIND"]),
    path=st.from_regex(r"/[A-Za-z0-9/._-]{0,30}", fullmatch=True),
    query=st.from_regex(r"[A-Za-z0-9=&%]{0,20}", fullmatch=True),
    status=st.integers(100, 599),
    size=st.integers(0, 10**9),
    agent=st.from_regex(r'[^"\\\x00-\x1f]{1,40}', fullmatch=True).filter(lambda a: a != "-"),
)
def test_round_trip(
    ip: str, method: str, path: str, query: str, status: int, size: int, agent: str
) -> None:
    target = f"{path}?{query}" if query else path
    line = (
        f'{ip} - - [01/Feb/2023:03:04:05 -0700] "{method} {target} HTTP/2.0" '
        f'{status} {size} "-" "{agent}"'
    )
    event = assert_ecs(AccessLogParser().parse(line.encode(), received_at=RECEIVED, source="t"))
    assert event["source"]["ip"] == ip
    assert event["http"]["request"]["method"] == method
    assert event["url"]["original"] == target
    assert event["url"].get("query") == (query or None)
    assert event["http"]["response"] == {"status_code": status, "body": {"bytes": size}}
    assert event["http"]["version"] == "2.0"
    assert event["user_agent"]["original"] == agent
    assert event["@timestamp"] == "2023-02-01T10:04:05.000Z"


@pytest.mark.parametrize("digits", [19, 5000])
def test_response_size_beyond_64_bits_is_a_parse_error(digits: int) -> None:
    """bench/fuzz.py found int() raising ValueError on a size of more than 4,300 digits."""
    line = b'192.0.2.7 - - [31/Jan/2025:09:15:00 +0100] "GET / HTTP/1.1" 200 ' + b"9" * digits
    with pytest.raises(ParseError) as caught:
        AccessLogParser().parse(line, received_at=RECEIVED, source="t")
    assert caught.value.field == "http.response.body.bytes"
    assert str(digits) in caught.value.reason


def test_long_quoted_field_stays_small_in_memory() -> None:
    """A plain `*` over the quoted alternation cost ~300 bytes of memory per byte."""
    import tracemalloc

    line = b'192.0.2.7 - - [31/Jan/2025:09:15:00 +0100] "GET /' + b"%" * 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ParseError):
            AccessLogParser().parse(line, received_at=RECEIVED, source="t")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * len(line)


def test_a_line_of_brackets_is_refused_in_linear_time() -> None:
    """bench/fuzz.py: `[ [ [ ...` made the user/time split quadratic (0.1 s for 8 KiB)."""
    import time

    line = b"66.249.73.185 - - " + b"[ " * 500_000  # 1 MB, the ingest line cap
    started = time.perf_counter()
    with pytest.raises(ParseError):
        AccessLogParser().parse(line, received_at=RECEIVED, source="t")
    assert time.perf_counter() - started < 0.5


def test_user_of_several_words_still_parses() -> None:
    line = b'192.0.2.7 - Jan de Vries [31/Jan/2025:09:15:00 +0100] "GET / HTTP/1.1" 200 5'
    event = AccessLogParser().parse(line, received_at=RECEIVED, source="t")
    assert event["user"]["name"] == "Jan de Vries"
