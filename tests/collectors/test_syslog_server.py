"""Syslog over UDP, TCP (octet counting, LF) and TLS into the event store, on real sockets."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from collectors.runtime import serve_collectors
from collectors.spool import open_spool
from core.config import Settings, load_settings
from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from tests.collectors.net import octet_frame, rfc5424, wait_for
from tests.processes import free_port


@contextmanager
def running(settings: Settings) -> Iterator[dict[str, int]]:
    """`serve_collectors` in a thread with its own loop, stopped (cleanly) on exit."""
    ports: dict[str, int] = {}
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    errors: list[BaseException] = []

    def on_ready(bound: dict[str, int]) -> None:
        ports.update(bound)
        ready.set()

    def target() -> None:
        try:
            loop.run_until_complete(
                serve_collectors(settings=settings, on_batch=None, stop=stop, on_ready=on_ready)
            )
        except BaseException as exc:
            errors.append(exc)
            ready.set()

    thread = threading.Thread(target=target)
    thread.start()
    assert ready.wait(10)
    assert not errors, errors
    try:
        yield ports
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(20)
        loop.close()
    assert not errors, errors


def stored(settings: Settings, **filters: object) -> int:
    with SqliteEventStore(settings.event_db_path) as store:
        return store.count(EventQuery(filters=filters))


def counters(settings: Settings) -> dict[str, tuple[int, int, int, int]]:
    with open_spool(settings) as spool:
        return {
            c.source: (c.received, c.parsed, c.dead_lettered, c.dropped) for c in spool.counters()
        }


@pytest.fixture
def syslog_settings(tmp_path: Path) -> Settings:
    return load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        syslog_port=free_port(),
        ingest_batch_size=100,
    )


def test_udp_and_bad_input(syslog_settings: Settings) -> None:
    with running(syslog_settings) as ports:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            for seq in range(200):
                udp.sendto(rfc5424(seq), ("127.0.0.1", ports["udp"]))
            udp.sendto(b"<34>Jan 31 09:15:00 web-01 su: BSD style\n", ("127.0.0.1", ports["udp"]))
            udp.sendto(b"\x00\xffnot syslog at all", ("127.0.0.1", ports["udp"]))
            udp.sendto(b"<34>1 2025-01-31T09:15:00Z h a - - - caf\xe9", ("127.0.0.1", ports["udp"]))
        wait_for(lambda: stored(syslog_settings) >= 202, what="UDP events stored")
    # Loopback UDP at this rate loses nothing; if it did, `dropped` would say so.
    assert stored(syslog_settings) == 202
    with SqliteEventStore(syslog_settings.event_db_path) as store:
        tagged = [e for e in store.search(EventQuery(limit=500)) if "tags" in e.event]
    assert [e.event["tags"] for e in tagged] == [["invalid_utf8"]]
    assert counters(syslog_settings)["syslog-udp"] == (203, 202, 1, 0)
    with SqliteEventStore(syslog_settings.event_db_path) as store:
        (letter,) = store.list_dead_letters(source="syslog-udp")
    assert letter.raw == b"\x00\xffnot syslog at all"
    assert letter.reason.startswith("udp://127.0.0.1:")


def test_udp_datagrams_keep_their_own_peer(syslog_settings: Settings) -> None:
    """Interleaved senders: runs of one peer are converted together, each keeps its source."""
    with running(syslog_settings) as ports:
        target = ("127.0.0.1", ports["udp"])
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second,
        ):
            senders = [first, first, second, first, second, second]
            for seq, sender in enumerate(senders * 10):
                sender.sendto(rfc5424(seq), target)
            second.sendto(b"\x00\xffnot syslog", target)
            peers = [f"udp://127.0.0.1:{s.getsockname()[1]}" for s in (first, second)]
        wait_for(lambda: stored(syslog_settings) >= 60, what="UDP events stored")
    with SqliteEventStore(syslog_settings.event_db_path) as store:
        found = store.search(EventQuery(limit=100))
        (letter,) = store.list_dead_letters(source="syslog-udp")
    by_seq = {
        int(e.event["message"].rsplit("seq=", 1)[1]): e.event["dijkwacht"]["ingest"]["source"]
        for e in found
    }
    assert len(by_seq) == 60
    for seq, source in by_seq.items():
        assert source == peers[0 if senders[seq % 6] is first else 1]
    assert letter.reason.startswith(peers[1] + ": ")


@pytest.mark.parametrize("framing", ["octet-counting", "lf"])
def test_tcp_framings_into_the_store(syslog_settings: Settings, framing: str) -> None:
    total = 3000
    with running(syslog_settings) as ports:
        with socket.create_connection(("127.0.0.1", ports["tcp"])) as conn:
            chunks = []
            for seq in range(total):
                message = rfc5424(seq)
                chunks.append(
                    octet_frame(message) if framing == "octet-counting" else message + b"\n"
                )
            conn.sendall(b"".join(chunks))
        wait_for(lambda: stored(syslog_settings) >= total, what="TCP events stored")
    with SqliteEventStore(syslog_settings.event_db_path) as store:
        messages = [e.event["message"] for e in store.search(EventQuery(limit=10_000))]
    assert sorted(messages) == sorted(f"seq={seq}" for seq in range(total))
    assert counters(syslog_settings)["syslog-tcp"] == (total, total, 0, 0)


def test_tcp_malformed_and_oversized_frames(syslog_settings: Settings) -> None:
    huge = b"<34>1 2025-01-31T09:15:00Z h a - - - " + b"x" * (10 * 1024 * 1024) + b"\n"
    with running(syslog_settings) as ports:
        with socket.create_connection(("127.0.0.1", ports["tcp"])) as conn:
            conn.sendall(
                rfc5424(1) + b"\n" + b"garbage without header\n" + huge + rfc5424(2) + b"\n"
            )
        wait_for(lambda: stored(syslog_settings) >= 2, what="good TCP events around bad ones")
        wait_for(
            lambda: counters(syslog_settings).get("syslog-tcp", (0, 0, 0, 0))[2] >= 2,
            what="dead letters",
        )
        # The server survived: a new connection still works.
        with socket.create_connection(("127.0.0.1", ports["tcp"])) as conn:
            conn.sendall(rfc5424(3) + b"\n")
        wait_for(lambda: stored(syslog_settings) >= 3, what="event after bad input")
    assert counters(syslog_settings)["syslog-tcp"] == (5, 3, 2, 0)
    with SqliteEventStore(syslog_settings.event_db_path) as store:
        letters = store.list_dead_letters(source="syslog-tcp")
    assert len(letters) == 2
    assert any(len(letter.raw) <= 256 and "65536" in letter.reason for letter in letters)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    settings = load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        syslog_port=free_port(),
        syslog_tls_port=free_port(),
        syslog_tls_cert=cert,
        syslog_tls_key=key,
    )
    client = ssl.create_default_context(cafile=str(cert))
    with running(settings) as ports:
        assert "tls" in ports
        with (
            socket.create_connection(("127.0.0.1", ports["tls"])) as raw,
            client.wrap_socket(raw, server_hostname="localhost") as conn,
        ):
            conn.sendall(b"".join(octet_frame(rfc5424(seq)) for seq in range(100)))
        wait_for(lambda: stored(settings) >= 100, what="TLS events stored")
    assert counters(settings)["syslog-tls"] == (100, 100, 0, 0)
