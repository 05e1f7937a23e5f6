"""The streaming indicator matcher: hash sets per value family and sorted intervals for ranges.

Built once from the active indicators (`service.build_matcher`) and rebuilt only when the
intel version counter moves, never per event. Per event it reads only the fields of families
that have indicators (no hash indicators: no hash fields are read), through generated walks,
one per key layout of the events (intel/walk.py), that read only the groups an event has. A
miss is decided inline by a cheap necessary condition and calls nothing: an IPv4 text by one
remembered verdict (exact address, else its /16 block flag, then one `bisect` over the ranges
flattened into intervals); a domain by its last two labels against those of every indicator
domain (the parent walk runs only when they match); a URL by its host; hashes, e-mail
addresses and user agents by one probe. The `_probe_*` methods below decide every hit.

Measured 2026-12-07, session 3 (bench/RESULTS.md; CPU time, shared 2-core machine at load
3-11): 103M instructions per 10,000 bench events under callgrind with 100,000 indicators
(155M before the per-layout walks); the shipped Sigma pack takes ~11-16 us per event, and the
streaming path with indicators runs at 0.795-0.805 of its speed without in the bench's paired
figure (old matcher: 0.757), while the headline ratio of whole legs spans 0.63-0.94 with the
load (target 0.8: not reliably). Inside that path the matcher costs ~30% more than alone
(its tables are cold after the rules' batch): what is left is memory more than instructions.
"""

from __future__ import annotations

import ipaddress
import socket
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from intel.values import HASH_LENGTHS, canon_email, canon_ip, canon_url
from intel.walk import Walker

IP_FIELDS = ("source.ip", "destination.ip", "client.ip", "server.ip")
DOMAIN_FIELDS = (
    "dns.question.name", "url.domain", "destination.domain", "server.domain", "source.domain",
    "client.domain",
)  # fmt: skip
URL_FIELDS = ("url.full", "url.original")
HASH_FIELDS = tuple(
    f"{owner}.hash.{name}" for owner in ("file", "process") for name in HASH_LENGTHS
)
EMAIL_FIELDS = (
    "email.from.address", "email.sender.address", "email.reply_to.address", "email.to.address",
)  # fmt: skip
UA_FIELDS = ("user_agent.original",)
FAMILY_OF = {
    "ipv4": "ip", "ipv6": "ip", "cidr": "ip", "domain": "domain", "url": "url", "md5": "hash",
    "sha1": "hash", "sha256": "hash", "email": "email", "user_agent": "ua",
}  # fmt: skip
FIELDS_OF = {
    "ip": IP_FIELDS, "domain": DOMAIN_FIELDS, "url": URL_FIELDS, "hash": HASH_FIELDS,
    "email": EMAIL_FIELDS, "ua": UA_FIELDS,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class IndicatorContext:
    """What an alert says about the indicator that matched; `active_until` covers expiry and
    the moment decay takes the score under the threshold (None: neither)."""

    id: int
    type: str
    value: str
    source: str
    confidence: int
    score: float
    tlp: str
    techniques: tuple[str, ...]
    group_key: str | None
    first_seen: datetime
    last_seen: datetime
    active_until: datetime | None

    @property
    def key(self) -> str:
        return f"{self.type}:{self.value}"


@dataclass(frozen=True, slots=True)
class Hit:
    """One event field value that matched indicators of one value."""

    event_index: int
    field: str
    atomic: str  # the event's value as found
    key: str  # "<type>:<value>" of the indicator value that matched
    contexts: tuple[IndicatorContext, ...]


def _url_host(text: str) -> str:
    """The host of a URL text, cheaply (the prefilter before canonicalising): lower case, no
    user info or port; "" when there is none."""
    start = text.find("//")
    if start < 0:
        return ""
    rest = text[start + 2 :]
    for stop in "/?#":
        cut = rest.find(stop)
        if cut >= 0:
            rest = rest[:cut]
    rest = rest.rpartition("@")[2]
    if rest.startswith("["):
        return rest[1 : rest.find("]")].lower() if "]" in rest else ""
    return rest.partition(":")[0].lower().rstrip(".")


class Matcher:
    """Indicators compiled for lookup; `match` returns the hits of a batch of events."""

    def __init__(self, contexts: Iterable[IndicatorContext]) -> None:
        self.ips: dict[str, list[IndicatorContext]] = {}
        self.ranges: dict[tuple[int, int], dict[int, list[IndicatorContext]]] = {}
        self.domains: dict[str, list[IndicatorContext]] = {}
        self.urls: dict[str, list[IndicatorContext]] = {}
        self.hashes: dict[str, list[IndicatorContext]] = {}
        self.emails: dict[str, list[IndicatorContext]] = {}
        self.agents: dict[str, list[IndicatorContext]] = {}
        self.size = 0
        self.earliest_end: datetime | None = None  # first expiry or decay among these
        for ctx in contexts:
            self._add(ctx)
        by_length = sorted(self.ranges, key=lambda k: -k[1])  # most specific range first
        self._v4_ranges = [key for key in by_length if key[0] == 4]
        self._v4_starts, self._v4_owners = self._v4_intervals()
        self._v4_blocks = self._v4_block_flags()
        self._v6_ranges = [key for key in by_length if key[0] == 6]
        # Prefilter for domains: the last two labels of every indicator domain. A name whose
        # last two labels are not among them (nearly all) has no indicator among its parents,
        # so it costs one probe and no parent walk. Values with no dot after the first
        # character (not canonical, never from `normalise`) switch the prefilter off.
        self._domain_tails: set[str] | None = {
            name[name.rfind(".", 0, name.rfind(".")) + 1 :] for name in self.domains
        }
        if any(name.find(".", 1) < 0 for name in self.domains):
            self._domain_tails = None
        families = []
        if self.ips or self.ranges:
            families.append("ip")
        for name, table in (
            ("domain", self.domains),
            ("url", self.urls),
            ("hash", self.hashes),
            ("email", self.emails),
            ("ua", self.agents),
        ):
            if table:
                families.append(name)
        self.fields = [(family, path) for family in families for path in FIELDS_OF[family]]
        self._url_hosts = {_url_host(url) for url in self.urls}
        self._walker = Walker(self, self.fields)

    def _v4_intervals(self) -> tuple[list[int], list[list[IndicatorContext] | None]]:
        """IPv4 ranges flattened into sorted interval starts, each with the contexts of the
        most specific range covering it (None: no range): an address costs one `bisect` in C
        instead of a dict probe per prefix length. Built by painting the ranges from the
        widest to the narrowest, so a narrower range overrides the wider one around it."""
        spans = [
            (prefix << (32 - length), (prefix + 1) << (32 - length), length, found)
            for (version, length), table in self.ranges.items()
            if version == 4
            for prefix, found in table.items()
        ]
        starts = sorted({0, *(span[0] for span in spans), *(span[1] for span in spans)})
        position = {start: index for index, start in enumerate(starts)}
        owners: list[list[IndicatorContext] | None] = [None] * len(starts)
        for start, end, _, found in sorted(spans, key=lambda span: span[2]):
            first, stop = position[start], position[end]
            owners[first:stop] = [found] * (stop - first)
        return starts, owners

    def _v4_block_flags(self) -> bytes:
        """One byte per /16 block of IPv4, 1 where a range covers part of it: an address in
        an unflagged block (nearly all) is outside every range after one index, no `bisect`
        over intervals scattered in memory."""
        flags = bytearray(1 << 16)
        for (version, length), table in self.ranges.items():
            if version != 4:
                continue
            for prefix in table:
                first = (prefix << (32 - length)) >> 16
                last = (((prefix + 1) << (32 - length)) - 1) >> 16
                flags[first : last + 1] = b"\x01" * (last + 1 - first)
        return bytes(flags)

    def _add(self, ctx: IndicatorContext) -> None:
        self.size += 1
        if ctx.active_until is not None and (
            self.earliest_end is None or ctx.active_until < self.earliest_end
        ):
            self.earliest_end = ctx.active_until
        if ctx.type == "cidr":
            network = ipaddress.ip_network(ctx.value)
            bits = network.max_prefixlen
            prefix = int(network.network_address) >> (bits - network.prefixlen)
            ranges = self.ranges.setdefault((network.version, network.prefixlen), {})
            ranges.setdefault(prefix, []).append(ctx)
            return
        table = {
            "ipv4": self.ips, "ipv6": self.ips, "domain": self.domains, "url": self.urls,
            "md5": self.hashes, "sha1": self.hashes, "sha256": self.hashes, "email": self.emails,
            "user_agent": self.agents,
        }[ctx.type]  # fmt: skip
        table.setdefault(ctx.value, []).append(ctx)

    def __len__(self) -> int:
        return self.size

    def match(self, events: Sequence[Mapping[str, Any]]) -> list[Hit]:
        """Hits of the batch; an event with none of the fields costs a few dict probes."""
        if not self.fields:
            return []
        hits: list[Hit] = []
        self._walker.match(events, hits)
        return hits

    def _probe_domain(self, text: str, index: int, field: str, hits: list[Hit]) -> None:
        name = text.lower().rstrip(".")
        domains = self.domains
        while True:
            found = domains.get(name)
            if found:
                hits.append(Hit(index, field, text, f"domain:{name}", tuple(found)))
            dot = name.find(".")
            if dot < 0:
                return
            name = name[dot + 1 :]

    def _probe_url(self, text: str, index: int, field: str, hits: list[Hit]) -> None:
        found = self.urls.get(text)
        key = text
        if found is None and _url_host(text) in self._url_hosts:
            key = canon_url(text) or ""
            found = self.urls.get(key)
        if found:
            hits.append(Hit(index, field, text, f"url:{key}", tuple(found)))

    def _probe_hash(self, text: str, index: int, field: str, hits: list[Hit]) -> None:
        key = text.lower()
        found = self.hashes.get(key)
        if found:
            hits.append(Hit(index, field, text, f"{found[0].type}:{key}", tuple(found)))

    def _probe_email(self, text: str, index: int, field: str, hits: list[Hit]) -> None:
        key = text.lower()
        found = self.emails.get(key)
        if found is None and not key.isascii():
            found = self.emails.get(canon_email(text) or "")
        if found:
            hits.append(Hit(index, field, text, f"email:{found[0].value}", tuple(found)))

    def _probe_agent(self, text: str, index: int, field: str, hits: list[Hit]) -> None:
        found = self.agents.get(text) or self.agents.get(text.strip())
        if found:
            hits.append(Hit(index, field, text, f"user_agent:{found[0].value}", tuple(found)))

    def _probe_ip(self, text: str, index: int, field: str, hits: list[Hit]) -> None:
        found = self.ips.get(text)
        if found:
            hits.append(Hit(index, field, text, f"{found[0].type}:{text}", tuple(found)))
            return
        if ":" not in text:
            if not self._v4_ranges:
                return
            try:  # strict dotted quad, in C
                number = int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
            except OSError:
                return
            found = self._v4_owners[bisect_right(self._v4_starts, number) - 1]
            if found:
                hits.append(Hit(index, field, text, f"cidr:{found[0].value}", tuple(found)))
            return
        # IPv6: canonical text first (the store may keep another spelling)
        canonical = canon_ip(text)
        if canonical is None:
            return
        if canonical != text and (found := self.ips.get(canonical)):
            hits.append(Hit(index, field, text, f"ipv6:{canonical}", tuple(found)))
            return
        number = int(ipaddress.IPv6Address(canonical))
        ranges = self.ranges
        for key in self._v6_ranges:
            found = ranges[key].get(number >> (128 - key[1]))
            if found:
                hits.append(Hit(index, field, text, f"cidr:{found[0].value}", tuple(found)))
                return
