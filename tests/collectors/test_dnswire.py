"""The hand-written DNS reader agrees with scapy's DNS layer, and leaves odd messages to it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.dnswire import dns_message_fields
from collectors.netdecode import dns_fields, scapy_dns_fields


def build(**fields: Any) -> bytes:
    from scapy.layers.dns import DNS

    return bytes(DNS(**fields))


def messages() -> list[bytes]:
    from scapy.layers.dns import DNSQR, DNSRR

    question = DNSQR(qname="www.gemeente.example", qtype="A")
    return [
        build(id=1, rd=1, qd=question),
        build(
            id=2,
            qr=1,
            rd=1,
            ra=1,
            qd=question,
            an=DNSRR(rrname="www.gemeente.example", type="A", ttl=60, rdata="192.0.2.1"),
        ),
        build(
            id=3,
            qr=1,
            aa=1,
            qd=DNSQR(qname="gemeente.example", qtype="AAAA"),
            an=DNSRR(rrname="gemeente.example", type="AAAA", rdata="2001:db8::1"),
        ),
        build(
            id=4,
            qr=1,
            qd=question,
            an=DNSRR(rrname="www.gemeente.example", type="CNAME", rdata="cdn.example")
            / DNSRR(rrname="cdn.example", type="A", rdata="198.51.100.7"),
        ),
        build(id=5, qr=1, rcode=3, qd=DNSQR(qname="nope.example", qtype="MX")),
        build(
            id=6,
            qr=1,
            qd=DNSQR(qname="7.2.0.192.in-addr.arpa", qtype="PTR"),
            an=DNSRR(rrname="7.2.0.192.in-addr.arpa", type="PTR", rdata="host.example"),
        ),
        build(id=7, cd=1, ad=1, qd=DNSQR(qname=".", qtype="NS")),
        build(id=8, opcode=4, qd=question),
    ]


@pytest.mark.parametrize("index", range(8))
def test_common_messages_are_read_without_scapy_and_agree_with_it(index: int) -> None:
    payload = messages()[index]
    fast = dns_message_fields(payload)
    assert fast is not None
    assert fast == scapy_dns_fields(payload)


def test_odd_records_fall_back_to_scapy() -> None:
    from scapy.layers.dns import DNSQR, DNSRR

    txt = build(
        id=9,
        qr=1,
        qd=DNSQR(qname="t.example", qtype="TXT"),
        an=DNSRR(rrname="t.example", type="TXT", rdata=[b"v=spf1 -all"]),
    )
    assert dns_message_fields(txt) is None
    assert dns_fields(txt) == scapy_dns_fields(txt)
    assert dns_fields(txt)["dns.answers"][0]["type"] == "TXT"  # type: ignore[index]


def test_compression_loops_and_cut_messages_are_not_read_here() -> None:
    loop = bytes.fromhex("0001 0100 0001 0000 0000 0000 c00c 0001 0001".replace(" ", ""))
    assert dns_message_fields(loop) is None
    whole = messages()[1]
    for cut in range(len(whole)):
        assert dns_message_fields(whole[:cut]) is None or cut >= 12


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_and_agree_when_read(payload: bytes) -> None:
    fast = dns_message_fields(payload)
    if fast is not None:
        assert fast == scapy_dns_fields(payload)
