"""The generated walks against the obvious reading: every indicator field of every event, nested
or flat, a text or a list of texts, straight through the matcher's probes (which decide hits).
The inline conditions and the per-layout walks may only skip work, never a hit."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from intel.matcher import Hit, Matcher
from intel.walk import Walker
from tests.intel.test_matcher import ctx

INDICATORS = [
    ("cidr", "10.0.0.0/8"), ("cidr", "203.0.113.0/24"), ("cidr", "2001:db8::/32"),
    ("ipv4", "198.51.100.7"), ("ipv6", "2001:db9::1"), ("domain", "evil.example"),
    ("domain", "xn--bcher-kva.example"), ("domain", "a.b.c.example"),
    ("url", "http://bad.example/x?a=1"), ("url", "https://[2001:db8::1]/p"),
    ("url", "http://10.9.8.7:8080/"), ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
    ("sha256", "ab" * 32), ("email", "boss@phish.example"), ("user_agent", "EvilLoader/2.0"),
]  # fmt: skip
WITH_RANGES = Matcher([ctx(kind, value, i) for i, (kind, value) in enumerate(INDICATORS)])
NO_RANGES = Matcher(
    [ctx(kind, value, i) for i, (kind, value) in enumerate(INDICATORS) if kind != "cidr"]
)

TEXTS = {
    "ip": [
        "198.51.100.7", "10.1.2.3", "10.0.0.0", "11.0.0.1", "203.0.113.255", "203.0.114.0",
        "2001:db8::5", "2001:0DB8:0::5", "2001:db9::1", "2001:DB9:0::1", "::ffff:10.1.2.3",
        "not-an-ip", "", "010.1.2.3", " 198.51.100.7", "198.51.100.7 ", "1.2.3",
    ],
    "domain": [
        "evil.example", "a.EVIL.example.", "EVIL.EXAMPLE", "evil.example.com", "evil.example..",
        "xn--bcher-kva.example", "www.XN--BCHER-KVA.example", "bücher.example", "c.example",
        "x.a.b.c.example", "b.c.example", "EVİL.example", "evil.exampLe", "\u212a.evil.example",
        "1.2", ".example", "example", "", ".",
    ],
    "url": [
        "http://bad.example/x?a=1", "HTTP://Bad.Example:80/x?a=1", "http://u@bad.example/x?a=1",
        "http://bad.example./x?a=1", "http://bad.example:80/x?a=1#top", "//bad.example/x?a=1",
        "https://[2001:DB8::1]:443/p", "https://[2001:db8::1]/p", "http://10.9.8.7:8080/",
        "http://bad.example", "bad.example/x?a=1", "https://good.example/", "", "http://",
        "http://bad_example/", "http://BAD.example/x?a=1", "http://bad.example?a=1",
    ],
    "hash": [
        "d41d8cd98f00b204e9800998ecf8427e", "D41D8CD98F00B204E9800998ECF8427E", "ab" * 32,
        "AB" * 32, "0" * 32, "", "not a hash",
    ],
    "email": [
        "boss@phish.example", "Boss@Phish.Example", "BOSS@PHISH.EXAMPLE ", "boss@phish.example.",
        "x@y.example", "bóss@phish.example", "boss@PHİSH.example", "", "@",
    ],
    "ua": ["EvilLoader/2.0", " EvilLoader/2.0 ", "evilloader/2.0", "Mozilla/5.0", ""],
}  # fmt: skip
FAMILY_OF_FIELD = {path: family for family, path in WITH_RANGES.fields}


def reference(matcher: Matcher, events: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """Every indicator field read plainly and probed, no condition, no layout."""
    probes = {
        "ip": matcher._probe_ip, "domain": matcher._probe_domain, "url": matcher._probe_url,
        "hash": matcher._probe_hash, "email": matcher._probe_email, "ua": matcher._probe_agent,
    }  # fmt: skip
    hits: list[Hit] = []
    for index, event in enumerate(events):
        for family, path in matcher.fields:
            node: Any = event
            for part in path.split("."):
                node = node.get(part) if type(node) is dict else None
            for value in (node, event.get(path)):
                for text in value if type(value) is list else [value]:
                    if type(text) is str:
                        probes[family](text, index, path, hits)
    return sorted((h.event_index, h.field, h.key) for h in hits)


def found(hits: list[Hit]) -> list[tuple[int, str, str]]:
    return sorted((h.event_index, h.field, h.key) for h in hits)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """An event with some indicator fields, nested or flat dotted, texts or lists (with
    non-texts among them), odd values where a group belongs, and unrelated keys."""
    event: dict[str, Any] = {}
    if draw(st.booleans()):
        event["host"] = {"name": "ws-1"}
    paths = draw(st.lists(st.sampled_from(sorted(FAMILY_OF_FIELD)), max_size=5, unique=True))
    for path in paths:
        pool = st.sampled_from(TEXTS[FAMILY_OF_FIELD[path]])
        value = draw(st.one_of(pool, st.lists(st.one_of(pool, st.just(7)), max_size=3)))
        if draw(st.booleans()):
            event[path] = value
            continue
        node = event
        *parents, leaf = path.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if type(child) is not dict:
                break
            node = child
        else:
            node[leaf] = value
    if draw(st.booleans()):
        event[draw(st.sampled_from(["source", "dns", "email", "url"]))] = "odd"
    return event


@settings(max_examples=300, deadline=None)
@given(batch=st.lists(events(), min_size=1, max_size=8), ranges=st.booleans())
def test_walks_agree_with_the_plain_reading(batch: list[dict[str, Any]], ranges: bool) -> None:
    matcher = WITH_RANGES if ranges else NO_RANGES
    expected = reference(matcher, batch)
    assert found(matcher.match(batch)) == expected
    assert found(matcher.match(batch)) == expected  # layouts and addresses remembered
    general: list[Hit] = []  # the walk past the bounds, for every event; addresses forgotten
    Walker(matcher, matcher.fields, max_layouts=0, max_walks=0, max_seen=1).match(batch, general)
    assert found(general) == expected


def test_a_layout_seen_first_without_a_field_then_with_it() -> None:
    matcher = Matcher([ctx("ipv4", "198.51.100.7"), ctx("domain", "evil.example")])
    quiet = [{"host": {"name": "a"}}, {"source": {"port": 1}}, {"dns": {"answers": []}}]
    assert matcher.match(quiet) == []
    loud = [
        {"host": {"name": "a"}, "dns": {"question": {"name": "evil.example"}}},
        {"source": {"port": 1, "ip": "198.51.100.7"}},
        {"dns": {"answers": [], "question": {"name": "www.evil.example"}}},
        {"host": {"name": "a"}, "source.ip": "198.51.100.7"},
        {"source.ip": "198.51.100.7", "host": {"name": "a"}},  # same keys, another order
    ]
    assert [(h.event_index, h.field) for h in matcher.match(loud)] == [
        (0, "dns.question.name"), (1, "source.ip"), (2, "dns.question.name"), (3, "source.ip"),
        (4, "source.ip"),
    ]  # fmt: skip


def test_layouts_and_walks_stay_bounded() -> None:
    """More layouts than remembered: each still read in full, the memory capped."""
    matcher = Matcher([ctx("ipv4", "198.51.100.7")])
    walker = Walker(matcher, matcher.fields, max_layouts=3, max_walks=1)
    batch: list[dict[str, Any]] = [
        {f"k{i}": i, "source": {"ip": "198.51.100.7"}} for i in range(10)
    ] + [{f"k{i}": i, "destination.ip": "198.51.100.7"} for i in range(10)]
    hits: list[Hit] = []
    walker.match(batch, hits)
    assert [h.event_index for h in hits] == list(range(20))
    assert len(walker._layouts) == 3 and len(walker._walks) == 1
