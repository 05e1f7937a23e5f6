"""The streaming indicator matcher: hash sets per value family and a prefix table for ranges.

Built once from the active indicators (`service.build_matcher`) and rebuilt only when the
intel version counter moves, never per event. Per event it reads only the fields of families
that have indicators (no hash indicators: no hash fields are read), the same prefiltering idea
as the Sigma engine's field index. Each lookup is a dict probe: addresses by their text first
(ECS addresses are canonical already) and, only when ranges exist or the text is IPv6, as an
integer against one dict per prefix length present; domains with their parent domains; URLs
by their text, then canonicalised. bench/intel.py measures the cost against an empty matcher.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from intel.values import HASH_LENGTHS, canon_email, canon_ip, canon_url

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


def _split(path: str) -> tuple[str, tuple[str, ...]]:
    return path, tuple(path.split("."))


def _get(event: Mapping[str, Any], flat: str, parts: tuple[str, ...]) -> Any:
    """`core.events.get_field` inlined for the hot path (flat key, then nested)."""
    value = event.get(flat)
    if value is not None:
        return value
    node: Any = event
    for part in parts:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
        if node is None:
            return None
    return node


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
        self._range_keys = sorted(self.ranges, key=lambda k: -k[1])
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
        self.fields = [(family, *_split(path)) for family in families for path in FIELDS_OF[family]]

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
        for index, event in enumerate(events):
            for family, flat, parts in self.fields:
                value = _get(event, flat, parts)
                if value is None:
                    continue
                for item in value if isinstance(value, list) else (value,):
                    if isinstance(item, str) and item:
                        self._probe(family, item, index, flat, hits)
        return hits

    def _probe(self, family: str, text: str, index: int, field: str, hits: list[Hit]) -> None:
        if family == "ip":
            self._probe_ip(text, index, field, hits)
        elif family == "domain":
            name = text.lower().rstrip(".")
            while True:
                found = self.domains.get(name)
                if found:
                    hits.append(Hit(index, field, text, f"{found[0].type}:{name}", tuple(found)))
                dot = name.find(".")
                if dot < 0:
                    break
                name = name[dot + 1 :]
        elif family == "url":
            found = self.urls.get(text)
            key = text
            if found is None:
                key = canon_url(text) or ""
                found = self.urls.get(key)
            if found:
                hits.append(Hit(index, field, text, f"url:{key}", tuple(found)))
        elif family == "hash":
            key = text.lower()
            found = self.hashes.get(key)
            if found:
                hits.append(Hit(index, field, text, f"{found[0].type}:{key}", tuple(found)))
        elif family == "email":
            key = text.lower()
            found = self.emails.get(key) or self.emails.get(canon_email(text) or "")
            if found:
                hits.append(Hit(index, field, text, f"email:{found[0].value}", tuple(found)))
        else:
            found = self.agents.get(text) or self.agents.get(text.strip())
            if found:
                hits.append(Hit(index, field, text, f"user_agent:{found[0].value}", tuple(found)))

    def _probe_ip(self, text: str, index: int, field: str, hits: list[Hit]) -> None:
        found = self.ips.get(text)
        if found:
            hits.append(Hit(index, field, text, f"{found[0].type}:{text}", tuple(found)))
            return
        if not self.ranges and ":" not in text:
            return
        canonical = canon_ip(text)
        if canonical is None:
            return
        if canonical != text and (found := self.ips.get(canonical)):
            hits.append(Hit(index, field, text, f"{found[0].type}:{canonical}", tuple(found)))
            return
        address = ipaddress.ip_address(canonical)
        number, version, bits = int(address), address.version, address.max_prefixlen
        for key in self._range_keys:
            if key[0] != version:
                continue
            table = self.ranges[key]
            found = table.get(number >> (bits - key[1]))
            if found:
                hits.append(Hit(index, field, text, f"cidr:{found[0].value}", tuple(found)))
                return
