"""Packet summaries: a pcap written by scapy here, the shared corpus, damage, live capture."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from collectors.netdecode import community_id
from collectors.packets import read_capture
from core.store.base import DeadLetter
from tests.collectors.support import assert_ecs
from tests.conftest import CORPUS_DIR

REPO = Path(__file__).resolve().parents[2]
PCAPS = CORPUS_DIR / "pcap"
T0 = 1_738_314_900.0  # 2025-01-31T09:15:00Z


def corpus_pcap(relative: str) -> Path:
    path = PCAPS / relative
    if not path.is_file():
        pytest.skip(f"pcap corpus not found at {path} (shared/ must sit beside the repo)")
    return path


def _written_capture(path: Path, *, ng: bool = False) -> None:
    """DNS query + answer, an HTTP GET with Host, a TLS ClientHello with SNI, a TCP flow."""
    from scapy.layers.dns import DNS, DNSQR, DNSRR
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.layers.tls.all import TLS, TLSClientHello
    from scapy.layers.tls.extensions import ServerName, TLS_Ext_ServerName
    from scapy.utils import PcapNgWriter, PcapWriter

    client, server, resolver = "192.0.2.10", "198.51.100.20", "192.0.2.53"
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    query = DNS(id=4242, rd=1, qd=DNSQR(qname="www.gemeente.example", qtype="A"))
    answer = DNS(
        id=4242,
        qr=1,
        rd=1,
        ra=1,
        qd=DNSQR(qname="www.gemeente.example", qtype="A"),
        an=DNSRR(rrname="www.gemeente.example", type="A", ttl=300, rdata="198.51.100.20"),
    )
    request = b"GET /loket/afspraak?id=7 HTTP/1.1\r\nHost: www.gemeente.example:8080\r\n"
    request += b"Cookie: session=secret\r\n\r\n"
    hello = TLS(
        msg=[
            TLSClientHello(
                ext=[TLS_Ext_ServerName(servernames=[ServerName(servername=b"mijn.example")])]
            )
        ]
    )
    packets = [
        eth / IP(src=client, dst=resolver) / UDP(sport=40000, dport=53) / query,
        eth / IP(src=resolver, dst=client) / UDP(sport=53, dport=40000) / answer,
        # TCP flow with an HTTP request: handshake, request, response, close.
        eth / IP(src=client, dst=server) / TCP(sport=50000, dport=8080, flags="S"),
        eth / IP(src=server, dst=client) / TCP(sport=8080, dport=50000, flags="SA"),
        eth / IP(src=client, dst=server) / TCP(sport=50000, dport=8080, flags="A"),
        eth / IP(src=client, dst=server) / TCP(sport=50000, dport=8080, flags="PA") / request,
        eth / IP(src=server, dst=client) / TCP(sport=8080, dport=50000, flags="PA") / (b"x" * 100),
        eth / IP(src=client, dst=server) / TCP(sport=50000, dport=8080, flags="FA"),
        # TLS over IPv6.
        eth / IPv6(src="2001:db8::10", dst="2001:db8::443") / TCP(sport=50001, dport=443) / hello,
    ]
    for index, packet in enumerate(packets):
        packet.time = T0 + index * 0.5
    writer = (PcapNgWriter if ng else PcapWriter)(str(path))
    for packet in packets:
        writer.write(packet)
    writer.close()


def _read(path: Path, **kwargs: Any) -> tuple[list[dict[str, Any]], list[DeadLetter]]:
    events: list[dict[str, Any]] = []
    dead: list[DeadLetter] = []
    with path.open("rb") as handle:
        for item in read_capture(handle, source=f"file:{path}", **kwargs):
            if isinstance(item, DeadLetter):
                dead.append(item)
            else:
                events.append(assert_ecs(item))
    return events, dead


def _by_dataset(events: list[dict[str, Any]], dataset: str) -> list[dict[str, Any]]:
    return [event for event in events if event["event"]["dataset"] == dataset]


@pytest.mark.parametrize("ng", [False, True], ids=["pcap", "pcapng"])
def test_scapy_written_capture_becomes_expected_ecs_events(tmp_path: Path, ng: bool) -> None:
    path = tmp_path / ("t.pcapng" if ng else "t.pcap")
    _written_capture(path, ng=ng)
    events, dead = _read(path)
    assert dead == []

    query, answer = _by_dataset(events, "network.dns")
    assert query["dns"]["type"] == "query"
    assert query["dns"]["question"] == {"name": "www.gemeente.example", "type": "A", "class": "IN"}
    assert query["source"] == {"ip": "192.0.2.10", "port": 40000}
    assert query["@timestamp"] == "2025-01-31T09:15:00.000Z"
    assert answer["dns"]["response_code"] == "NOERROR"
    assert answer["dns"]["answers"] == [
        {
            "name": "www.gemeente.example",
            "type": "A",
            "class": "IN",
            "ttl": 300,
            "data": "198.51.100.20",
        }
    ]
    assert answer["dns"]["resolved_ip"] == ["198.51.100.20"]

    (http,) = _by_dataset(events, "network.http")
    assert http["http"]["request"]["method"] == "GET"
    assert http["url"] == {"original": "/loket/afspraak?id=7", "domain": "www.gemeente.example"}
    assert "secret" not in http["event"]["original"]  # headers beyond Host are not copied

    (tls,) = _by_dataset(events, "network.tls")
    assert tls["tls"]["client"]["server_name"] == "mijn.example"
    assert tls["network"]["type"] == "ipv6"
    assert tls["destination"] == {"ip": "2001:db8::443", "port": 443}

    flows = {
        (e["source"]["ip"], e["destination"].get("port")): e
        for e in _by_dataset(events, "network.flow")
    }
    assert len(flows) == 3
    tcp = flows[("192.0.2.10", 8080)]
    assert tcp["network"]["transport"] == "tcp"
    assert (tcp["source"]["packets"], tcp["destination"]["packets"]) == (4, 2)
    assert tcp["source"]["bytes"] == 40 * 4 + len(
        b"GET /loket/afspraak?id=7 HTTP/1.1\r\nHost: www.gemeente.example:8080\r\n"
        b"Cookie: session=secret\r\n\r\n"
    )
    assert tcp["destination"]["bytes"] == 40 * 2 + 100
    assert tcp["event"]["duration"] == 2_500_000_000  # packets 2..7, 0.5 s apart
    assert tcp["network"]["community_id"] == community_id(
        "192.0.2.10", "198.51.100.20", 6, 50000, 8080
    )
    dns_flow = flows[("192.0.2.10", 53)]
    assert dns_flow["network"]["transport"] == "udp"
    assert dns_flow["source"]["packets"] == dns_flow["destination"]["packets"] == 1


def test_community_id_matches_the_specification_example() -> None:
    # From the community-id-spec baseline: 128.232.110.120:34855 -> 66.35.250.204:80 TCP.
    assert (
        community_id("128.232.110.120", "66.35.250.204", 6, 34855, 80)
        == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
    )


def test_idle_flows_end_after_the_timeout(tmp_path: Path) -> None:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import PcapWriter

    path = tmp_path / "idle.pcap"
    writer = PcapWriter(str(path))
    for offset in (0, 1, 100, 101):  # same 5-tuple; a 99 s gap splits it with a 30 s timeout
        packet = (
            Ether(dst="02:00:00:00:00:02")
            / IP(src="192.0.2.1", dst="192.0.2.2")
            / UDP(sport=5000, dport=6000)
        )
        packet.time = T0 + offset
        writer.write(packet)
    writer.close()
    events, _ = _read(path, flow_timeout=30)
    flows = _by_dataset(events, "network.flow")
    assert [flow["source"]["packets"] for flow in flows] == [2, 2]


def test_dns_tunnel_corpus_gives_long_query_names() -> None:
    events, dead = _read(corpus_pcap("elastic-examples/dns-tunnel-iodine.pcap"))
    assert dead == []
    dns = _by_dataset(events, "network.dns")
    assert len(dns) > 100
    names = [event["dns"]["question"]["name"] for event in dns if "question" in event["dns"]]
    # The tunnel's data is encoded in ever-new labels under one domain.
    assert sum(name.endswith(".pirate.sea") for name in names) > 0.9 * len(names)
    assert len(set(names)) > 100 and max(len(name) for name in names) > 50
    assert {event["dns"]["question"].get("type") for event in dns} & {"NULL", "TXT", "CNAME"}


def test_syn_scan_corpus_gives_many_small_flows_from_one_scanner() -> None:
    events, dead = _read(corpus_pcap("chrissanders/synscan.pcapng"))
    assert dead == []
    flows = _by_dataset(events, "network.flow")
    assert len(flows) > 1000
    scanners = Counter(flow["source"]["ip"] for flow in flows)
    top, count = scanners.most_common(1)[0]
    assert count > 0.9 * len(flows)
    ports = {flow["destination"]["port"] for flow in flows if flow["source"]["ip"] == top}
    assert len(ports) > 900
    assert all(flow["source"]["packets"] <= 3 for flow in flows)


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("zeek/tls13-ech.pcap", "cloudflare-ech.com"),
        ("zeek/chrome-1250-tls-x25519-kyber.pcap", "lh3.google.com"),  # ClientHello > 1 segment
    ],
)
def test_corpus_tls_server_names(relative: str, expected: str) -> None:
    events, _ = _read(corpus_pcap(relative))
    names = {event["tls"]["client"]["server_name"] for event in _by_dataset(events, "network.tls")}
    assert names == {expected}


def test_every_corpus_capture_reads_without_damage() -> None:
    for path in sorted(corpus_pcap("zeek/wikipedia.pcap").parents[1].rglob("*.pcap*")):
        events, dead = _read(path)
        assert events, path
        assert dead == [], path


def test_truncated_capture_keeps_what_precedes_the_cut(tmp_path: Path) -> None:
    whole = tmp_path / "whole.pcap"
    _written_capture(whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 30])  # inside the last (TLS) record
    events, dead = _read(cut)
    assert len(_by_dataset(events, "network.dns")) == 2
    assert len(_by_dataset(events, "network.http")) == 1
    assert _by_dataset(events, "network.tls") == []
    (letter,) = dead
    assert "truncated" in letter.reason and letter.offset is not None
    assert letter.reason.startswith(f"byte offset {letter.offset}:")
    assert letter.raw_length == len(data) - 30 - letter.offset


def test_garbage_and_damaged_pcapng_are_dead_lettered(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture file at all" * 10)
    events, dead = _read(junk)
    assert events == []
    assert len(dead) == 1 and "not a readable pcap or pcapng" in dead[0].reason
    assert dead[0].raw.startswith(b"this is not")

    ng = tmp_path / "t.pcapng"
    _written_capture(ng, ng=True)
    data = bytearray(ng.read_bytes())
    data[len(data) // 2 :] = b"\xff" * (len(data) - len(data) // 2)  # smashed second half
    broken = tmp_path / "broken.pcapng"
    broken.write_bytes(bytes(data))
    events, dead = _read(broken)
    assert _by_dataset(events, "network.dns")  # the first packets still count
    assert len(dead) == 1 and dead[0].offset is not None and dead[0].offset <= len(data) // 2


def test_read_capture_takes_any_binary_file_object(tmp_path: Path) -> None:
    path = tmp_path / "t.pcap"
    _written_capture(path)
    items = list(read_capture(io.BytesIO(path.read_bytes()), source="memory"))
    assert len(items) == 7 and not any(isinstance(item, DeadLetter) for item in items)


# -- live capture in two network namespaces ----------------------------------------------------

_CAPTURE = """
import signal, sys, threading, orjson
from collectors.packets import capture_live
stop, started = threading.Event(), threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
out = open(sys.argv[2], "wb")
def sink(events):
    for event in events:
        out.write(orjson.dumps(event) + b"\\n")
    out.flush()
thread = threading.Thread(
    target=capture_live,
    kwargs=dict(iface=sys.argv[1], sink=sink, stop=stop, tick=0.2, started=started),
)
thread.start()
started.wait(10)
open(sys.argv[3], "w").close()
thread.join()
out.close()
"""

_SEND = """
import socket, struct, urllib.request
dns = struct.pack("!HHHHHH", 77, 0x0100, 1, 0, 0, 0) + b"\\x05loket\\x08gemeente\\x07example\\x00"
dns += struct.pack("!HH", 1, 1)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.sendto(dns, ("169.254.77.1", 53))
udp.sendto(b"hello", ("169.254.77.1", 9999))
request = urllib.request.Request("http://169.254.77.1:8080/", headers={"Host": "intranet.example"})
urllib.request.urlopen(request, timeout=5).read()
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.mark.slow
def test_live_capture_between_two_namespaces(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("live capture needs root (network namespaces and a raw socket)")
    if shutil.which("ip") is None:
        pytest.skip("the `ip` command (iproute2) is not installed")
    tag = f"dw{os.getpid() % 100000}"
    capture_ns, sender_ns = f"{tag}cap", f"{tag}snd"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    processes: list[subprocess.Popen[bytes]] = []
    out, ready = tmp_path / "events.jsonl", tmp_path / "ready"
    try:
        _ip("netns", "add", capture_ns)
        _ip("netns", "add", sender_ns)
        _ip("link", "add", f"{tag}a", "type", "veth", "peer", "name", f"{tag}b")
        _ip("link", "set", f"{tag}a", "netns", capture_ns)
        _ip("link", "set", f"{tag}b", "netns", sender_ns)
        for ns, dev, address in (
            (capture_ns, f"{tag}a", "169.254.77.1/24"),
            (sender_ns, f"{tag}b", "169.254.77.2/24"),
        ):
            _ip("-n", ns, "addr", "add", address, "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        in_capture = ["ip", "netns", "exec", capture_ns, sys.executable]
        processes.append(
            subprocess.Popen(
                [*in_capture, "-c", _CAPTURE, f"{tag}a", str(out), str(ready)], env=env, cwd=REPO
            )
        )
        processes.append(
            subprocess.Popen(
                [*in_capture, "-m", "http.server", "8080", "--bind", "169.254.77.1"],
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "capture did not start"
        for _attempt in range(50):  # wait for the HTTP server to listen
            sent = subprocess.run(
                ["ip", "netns", "exec", sender_ns, sys.executable, "-c", _SEND],
                capture_output=True,
                timeout=20,
            )
            if sent.returncode == 0:
                break
            time.sleep(0.1)
        assert sent.returncode == 0, sent.stderr.decode()
        time.sleep(0.5)
        processes[0].send_signal(signal.SIGTERM)
        processes[0].wait(timeout=15)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        for ns in (capture_ns, sender_ns):  # deleting a namespace removes its veth end
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
    events = [assert_ecs(orjson.loads(raw)) for raw in out.read_bytes().splitlines()]
    (dns,) = [e for e in _by_dataset(events, "network.dns") if e["dns"]["id"] == "77"]
    assert dns["dns"]["question"]["name"] == "loket.gemeente.example"
    assert dns["source"]["ip"] == "169.254.77.2"
    (http,) = _by_dataset(events, "network.http")
    assert http["url"]["domain"] == "intranet.example"
    assert http["destination"] == {"ip": "169.254.77.1", "port": 8080}
    flows = _by_dataset(events, "network.flow")
    udp = [f for f in flows if f["destination"].get("port") == 9999]
    assert len(udp) == 1 and udp[0]["source"]["bytes"] == 20 + 8 + 5
    tcp = [f for f in flows if f["destination"].get("port") == 8080]
    assert tcp and tcp[0]["source"]["packets"] >= 3 and tcp[0]["destination"]["packets"] >= 2
    assert all(event["dijkwacht"]["ingest"]["source"] == f"iface:{tag}a" for event in events)
