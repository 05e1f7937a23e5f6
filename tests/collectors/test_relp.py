"""RELP: the framer on its own, then a small RELP client (as rsyslog's omrelp speaks) against
the collector: every `rsp 200 OK` means the message is already in the spool."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from collectors.relp import RelpFrame, RelpFramer, frame
from collectors.spool import open_spool
from core.config import Settings, load_settings
from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from tests.collectors.net import rfc5424
from tests.collectors.test_syslog_server import _self_signed, running
from tests.processes import free_port

OFFERS = b"relp_version=0\nrelp_software=test\ncommands=syslog"


class RelpClient:
    """A blocking RELP sender: `send` frames, `responses` reads `rsp` frames by txnr."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.framer = RelpFramer(max_data=1 << 20)
        self.pending: list[RelpFrame] = []

    def send(self, *frames: bytes) -> None:
        self.sock.sendall(b"".join(frames))

    def read(self, count: int) -> list[RelpFrame]:
        """The next `count` frames from the server (EOFError if it closes first)."""
        while len(self.pending) < count:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(f"server closed after {len(self.pending)} frames")
            self.pending.extend(self.framer.feed(data))
            assert self.framer.error is None, self.framer.error
        got, self.pending = self.pending[:count], self.pending[count:]
        return got

    def open(self) -> RelpFrame:
        self.send(frame(1, "open", OFFERS))
        (reply,) = self.read(1)
        return reply

    def close(self) -> None:
        self.sock.close()


def relp_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "data_dir": tmp_path / "data",
        "syslog_enabled": False,
        "ingest_http_enabled": False,
        "relp_port": free_port(),
        "syslog_max_message_bytes": 1024,
    }
    values.update(overrides)
    return load_settings(**values)


def relp_parsed(settings: Settings) -> tuple[int, int]:
    with open_spool(settings) as spool:
        for counter in spool.counters():
            if counter.source == "relp":
                return counter.parsed, counter.dead_lettered
    return 0, 0


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 10_000])
def test_framer_splits_any_chunking(chunk: int) -> None:
    stream = (
        frame(1, "open", OFFERS)
        + frame(2, "syslog", b"<13>hello\nwith LF inside")
        + b"3 close 0\n"
        + b"4 syslog 0 \n"  # zero length with a trailing space, as some senders write it
        + frame(5, "syslog", b"x" * 50)
    )
    framer = RelpFramer(max_data=20)
    frames: list[RelpFrame] = []
    for start in range(0, len(stream), chunk):
        frames.extend(framer.feed(stream[start : start + chunk]))
    assert framer.error is None
    assert [(f.txnr, f.command) for f in frames] == [
        (1, "open"),
        (2, "syslog"),
        (3, "close"),
        (4, "syslog"),
        (5, "syslog"),
    ]
    assert frames[1].data == b"<13>hello\nwith LF inside"
    assert frames[3].data == b""
    # Over max_data: the start is kept for the dead letter, the rest skipped, the reason given.
    assert frames[0].error is not None and frames[4].error == "message: larger than 20 bytes (50)"
    assert frames[4].data == b"x" * 50  # 50 < 256 kept bytes


@pytest.mark.parametrize(
    ("stream", "problem"),
    [
        (b"GET / HTTP/1.1\r\n", "frame header"),
        (b"1 syslog 3 abcX", "not terminated by LF"),
        (b"x" * 100, "frame header"),
    ],
)
def test_framer_refuses_what_is_not_relp(stream: bytes, problem: str) -> None:
    framer = RelpFramer(max_data=1024)
    good = framer.feed(frame(1, "open", OFFERS) + stream)
    assert [f.command for f in good] == ["open"]  # frames before the fault still count
    assert framer.error is not None and problem in str(framer.error)
    assert framer.feed(b"1 close 0\n") == []


def test_session_acknowledges_only_spooled_messages(tmp_path: Path) -> None:
    settings = relp_settings(tmp_path)
    with running(settings) as ports:
        client = RelpClient(ports["relp"])
        try:
            reply = client.open()
            assert (reply.txnr, reply.command) == (1, "rsp")
            assert reply.data.startswith(b"200 OK\n")
            assert b"commands=syslog" in reply.data and b"relp_version=0" in reply.data
            # A window of 100 messages in one go, then one that cannot be parsed.
            client.send(*(frame(n, "syslog", rfc5424(n)) for n in range(2, 102)))
            client.send(frame(102, "syslog", b"no pri and no timestamp"))
            replies = client.read(101)
            assert [(r.txnr, r.data) for r in replies] == [(n, b"200 OK") for n in range(2, 103)]
            # Acknowledged means committed: the counters are written with the events.
            assert relp_parsed(settings) == (100, 1)
            client.send(frame(103, "syslog", b"<13>" + b"x" * 2000))  # over 1024 bytes
            client.send(frame(104, "starttls"), b"105 close 0\n")
            over, unknown, closed = client.read(3)
            assert over.data == b"200 OK"  # kept as a dead letter: nothing is lost
            assert unknown.data.startswith(b"500 command not supported")
            assert (closed.txnr, closed.data) == (105, b"200 OK")
            assert client.sock.recv(100) == b""  # the server closed the session
        finally:
            client.close()
    with SqliteEventStore(settings.event_db_path) as store:
        assert store.count(EventQuery()) == 100
        letters = store.list_dead_letters(source="relp")
    assert len(letters) == 2
    assert any("larger than 1024 bytes" in letter.reason for letter in letters)


def test_syslog_before_open_is_500_and_garbage_ends_the_session(tmp_path: Path) -> None:
    settings = relp_settings(tmp_path)
    with running(settings) as ports:
        client = RelpClient(ports["relp"])
        try:
            client.send(frame(1, "syslog", rfc5424(1)))
            (reply,) = client.read(1)
            assert reply.data.startswith(b"500 session not open")
            client.send(b"this is not relp\n")
            (bye,) = client.read(1)
            assert (bye.txnr, bye.command) == (0, "serverclose")
        finally:
            client.close()
    assert relp_parsed(settings) == (0, 1)  # the garbage is a dead letter; no event


def test_clean_stop_acknowledges_then_sends_serverclose(tmp_path: Path) -> None:
    settings = relp_settings(tmp_path)
    with running(settings) as ports:
        client = RelpClient(ports["relp"])
        client.open()
        client.send(*(frame(n, "syslog", rfc5424(n)) for n in range(2, 12)))
        assert len(client.read(10)) == 10
    try:
        (bye,) = client.read(1)
        assert (bye.txnr, bye.command) == (0, "serverclose")
    finally:
        client.close()


def stored_messages(settings: Settings) -> list[str]:
    with SqliteEventStore(settings.event_db_path) as store:
        found = store.search(EventQuery(limit=1000, order="asc"))
    return sorted(str(item.event["message"]) for item in found)


def test_resends_after_a_lost_rsp_are_stored_once(tmp_path: Path) -> None:
    settings = relp_settings(tmp_path)
    with running(settings) as ports:
        first = RelpClient(ports["relp"])
        first.open()
        first.send(*(frame(n, "syslog", rfc5424(n)) for n in range(2, 12)))  # seq 2..11
        assert len(first.read(10)) == 10
        first.close()  # gone without `close`: as if the last rsp frames never arrived
        second = RelpClient(ports["relp"])
        second.open()
        # omrelp resends what it has no rsp for (here 7..11) first, then goes on with new ones.
        second.send(*(frame(n - 5, "syslog", rfc5424(n)) for n in range(7, 12)))
        second.send(frame(7, "syslog", rfc5424(12)), frame(8, "syslog", rfc5424(7)))
        assert [r.data for r in second.read(7)] == [b"200 OK"] * 7
        second.send(b"9 close 0\n")
        second.read(1)
        second.close()
        third = RelpClient(ports["relp"])  # after a clean close nothing is taken for a resend
        third.open()
        third.send(frame(2, "syslog", rfc5424(12)))
        third.read(1)
        third.close()
    # 2..11 once; 12 twice (new in two sessions); 7 again after matching ended: a new message.
    expected = sorted([f"seq={n}" for n in range(2, 12)] + ["seq=12", "seq=12", "seq=7"])
    assert stored_messages(settings) == expected


@given(
    messages=st.lists(
        st.tuples(
            st.integers(1, 999_999_999),
            st.sampled_from(["syslog", "open", "close", "rsp"]),
            st.binary(max_size=40),
        ),
        max_size=12,
    ),
    cuts=st.lists(st.integers(0, 600), max_size=8),
)
@hypothesis_settings(max_examples=200, deadline=None)
def test_framer_round_trips_any_frames_at_any_cut(
    messages: list[tuple[int, str, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(frame(txnr, command, data) for txnr, command, data in messages)
    framer = RelpFramer(max_data=32)
    got: list[RelpFrame] = []
    start = 0
    for cut in [*sorted({min(cut, len(stream)) for cut in cuts}), len(stream)]:
        got.extend(framer.feed(stream[start:cut]))
        start = cut
    assert framer.error is None
    assert [(f.txnr, f.command) for f in got] == [(t, c) for t, c, _ in messages]
    for item, (_, _, data) in zip(got, messages, strict=True):
        if len(data) > 32:  # too large: the start is kept and the reason given
            assert item.error is not None and item.data == data[:256]
        else:
            assert item.error is None and item.data == data


def test_relp_over_tls_with_the_collectors_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    settings = relp_settings(
        tmp_path, relp_tls_port=free_port(), syslog_tls_cert=cert, syslog_tls_key=key
    )
    context = ssl.create_default_context(cafile=str(cert))
    with running(settings) as ports:
        raw = socket.create_connection(("127.0.0.1", ports["relp-tls"]), timeout=10)
        with context.wrap_socket(raw, server_hostname="localhost") as conn:
            conn.sendall(frame(1, "open", OFFERS) + frame(2, "syslog", rfc5424(1)))
            framer = RelpFramer(max_data=4096)
            replies: list[RelpFrame] = []
            while len(replies) < 2:
                replies.extend(framer.feed(conn.recv(4096)))
        assert [(r.txnr, r.data[:6]) for r in replies] == [(1, b"200 OK"), (2, b"200 OK")]
        assert relp_parsed(settings) == (1, 0)
    with SqliteEventStore(settings.event_db_path) as store:
        (item,) = store.search(EventQuery())
    assert item.event["message"] == "seq=1"
