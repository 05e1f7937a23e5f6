"""The compiled matcher against the obvious definition (ipaddress membership, parent domains)."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from intel.matcher import IndicatorContext, Matcher
from intel.values import normalise, parent_domains
from tests.intel.conftest import NOW


def ctx(kind: str, value: str, index: int = 1) -> IndicatorContext:
    kind, value = normalise(kind, value)
    return IndicatorContext(
        id=index, type=kind, value=value, source="t", confidence=50, score=50.0, tlp="amber",
        techniques=(), group_key=None, first_seen=NOW, last_seen=NOW,
        active_until=NOW + timedelta(days=1),
    )  # fmt: skip


def keys(matcher: Matcher, *events: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(h.event_index, h.field, h.key) for h in matcher.match(list(events))]


def test_families_nested_flat_and_lists() -> None:
    matcher = Matcher(
        [
            ctx("cidr", "10.0.0.0/8"),
            ctx("cidr", "203.0.113.0/24"),
            ctx("cidr", "2001:db8::/32"),
            ctx("ipv6", "2001:DB9::1"),
            ctx("domain", "evil.example"),
            ctx("url", "http://bad.example/x?a=1"),
            ctx("md5", "D41D8CD98F00B204E9800998ECF8427E"),
            ctx("email", "boss@phish.example"),
            ctx("user_agent", "EvilLoader/2.0"),
        ]
    )
    assert keys(matcher, {"source": {"ip": "10.200.1.1"}}) == [(0, "source.ip", "cidr:10.0.0.0/8")]
    assert keys(matcher, {"destination.ip": "203.0.113.5"}) == [
        (0, "destination.ip", "cidr:203.0.113.0/24")
    ]
    assert keys(matcher, {"client": {"ip": "2001:0db8:0000::7"}}) == [
        (0, "client.ip", "cidr:2001:db8::/32")
    ]
    assert keys(matcher, {"server": {"ip": "2001:db9:0::1"}}) == [
        (0, "server.ip", "ipv6:2001:db9::1")
    ]
    assert keys(matcher, {"dns": {"question": {"name": "a.b.EVIL.example."}}}) == [
        (0, "dns.question.name", "domain:evil.example")
    ]
    assert keys(matcher, {"dns": {"question": {"name": "evil.example.com"}}}) == []
    assert keys(matcher, {"url": {"full": "HTTP://Bad.Example:80/x?a=1"}}) == [
        (0, "url.full", "url:http://bad.example/x?a=1")
    ]
    assert keys(matcher, {"file": {"hash": {"md5": "d41d8cd98f00b204e9800998ecf8427e"}}}) == [
        (0, "file.hash.md5", "md5:d41d8cd98f00b204e9800998ecf8427e")
    ]
    assert keys(matcher, {"email": {"to": {"address": ["x@y.example", "Boss@Phish.example"]}}}) == [
        (0, "email.to.address", "email:boss@phish.example")
    ]
    assert keys(matcher, {"user_agent": {"original": "EvilLoader/2.0"}}, {"source": "odd"}) == [
        (0, "user_agent.original", "user_agent:EvilLoader/2.0")
    ]
    assert keys(matcher, {"source": {"ip": "not-an-ip"}, "url": {"full": 7}}) == []


def test_only_fields_of_loaded_families_are_read() -> None:
    assert Matcher([]).fields == []
    only_hashes = Matcher([ctx("sha256", "a" * 64)])
    assert {path.split(".")[0] for _, path in only_hashes.fields} == {"file", "process"}


_network = st.tuples(st.ip_addresses(v=4), st.integers(4, 31)).map(
    lambda pair: ipaddress.ip_network(f"{pair[0]}/{pair[1]}", strict=False)
)


@settings(max_examples=150, deadline=None)
@given(
    networks=st.lists(_network, min_size=1, max_size=6),
    offsets=st.lists(st.integers(0, 2**32), max_size=6),
    addresses=st.lists(st.ip_addresses(v=4), max_size=6),
)
def test_ranges_agree_with_ipaddress(
    networks: list[ipaddress.IPv4Network],
    offsets: list[int],
    addresses: list[ipaddress.IPv4Address],
) -> None:
    """Addresses inside, at the edges of and outside random ranges of /4 to /31."""
    probes = list(addresses)
    for network, offset in zip(networks, offsets, strict=False):
        probes.append(network.network_address + offset % network.num_addresses)
        probes.append(network.broadcast_address)
        if int(network.broadcast_address) < 2**32 - 1:
            probes.append(network.broadcast_address + 1)
    matcher = Matcher([ctx("cidr", str(net), i) for i, net in enumerate(networks)])
    events = [{"source": {"ip": str(address)}} for address in probes]
    hit = {h.event_index for h in matcher.match(events)}
    for index, address in enumerate(probes):
        inside = any(address in network for network in networks)
        assert (index in hit) == inside, (address, networks)
    # a second pass answers from the matcher's memory of seen addresses: the same hits
    assert {h.event_index for h in matcher.match(events)} == hit


_label = st.sampled_from(["a", "b", "evil", "xn--bcher-kva", "com", "nl"])


@settings(max_examples=150, deadline=None)
@given(
    indicators=st.lists(st.lists(_label, min_size=2, max_size=4), min_size=1, max_size=5),
    names=st.lists(st.lists(_label, min_size=1, max_size=5), max_size=6),
    spelling=st.sampled_from(["", ".", "UPPER"]),
)
def test_domains_agree_with_the_parent_walk(
    indicators: list[list[str]], names: list[list[str]], spelling: str
) -> None:
    """The last-two-labels prefilter never drops a hit: every parent domain of a name (upper
    case, trailing dot) that is an indicator matches, most specific first, and nothing else."""
    wanted = {".".join(labels) for labels in indicators}
    matcher = Matcher([ctx("domain", name, i) for i, name in enumerate(sorted(wanted))])
    texts = [".".join(labels) for labels in names] + sorted(wanted)
    texts = [t.upper() if spelling == "UPPER" else t + spelling for t in texts]
    found = keys(matcher, *({"dns": {"question": {"name": text}}} for text in texts))
    expected = [
        (index, "dns.question.name", f"domain:{parent}")
        for index, text in enumerate(texts)
        for parent in parent_domains(text.lower().rstrip("."))
        if parent in wanted
    ]
    assert found == expected
