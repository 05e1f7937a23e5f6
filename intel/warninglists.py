"""MISP warninglists (the published JSON format) and the compiled check against them.

A list has a `name`, a matching `type` (`string`, `cidr`, `hostname`, `substring`, `regex`)
and its values under `list`. `hostname` entries cover their subdomains (MISP's meaning); `cidr`
entries cover the addresses and ranges inside them. An indicator on a list is dropped at import
and, when the list arrives later, left out of the matcher: known-benign values never alert.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from intel.schemas import Parsed, WarninglistRecord
from intel.values import canon_domain, parent_domains, url_host

KINDS = ("string", "cidr", "hostname", "substring", "regex")
MAX_REGEX = 500


def read_warninglist(data: bytes, source: str) -> Parsed:
    parsed = Parsed()
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        parsed.reject(source, "(document)", f"not JSON: {exc}")
        return parsed
    if not isinstance(document, dict):
        parsed.reject(source, "(document)", "a warninglist is a JSON object")
        return parsed
    name, kind, values = document.get("name"), document.get("type", "string"), document.get("list")
    if not isinstance(name, str) or not name.strip():
        parsed.reject(source, "name", "must be a non-empty text")
        return parsed
    if kind not in KINDS:
        parsed.reject(source, "type", f"unknown {kind!r}; known: {', '.join(KINDS)}")
        return parsed
    if not isinstance(values, list):
        parsed.reject(source, "list", "must be a list of values")
        return parsed
    good: list[str] = []
    for index, value in enumerate(values):
        problem = _problem(kind, value)
        if problem:
            parsed.reject(source, f"list[{index}]", problem)
        else:
            good.append(str(value).strip().lower() if kind != "regex" else str(value))
    parsed.warninglists.append(WarninglistRecord(name=name.strip()[:200], kind=kind, values=good))
    return parsed


def _problem(kind: str, value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty text"
    if kind == "cidr":
        try:
            ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            return f"not an address or network: {value[:60]!r}"
    if kind == "regex":
        if len(value) > MAX_REGEX:
            return f"a regex longer than {MAX_REGEX} characters"
        try:
            re.compile(value)
        except re.error as exc:
            return f"not a regular expression: {exc}"
    return None


@dataclass
class Warninglists:
    """All entries compiled for checking canonical indicator values; built once per load."""

    strings: set[str] = field(default_factory=set)
    hostnames: set[str] = field(default_factory=set)
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = field(default_factory=list)
    substrings: list[str] = field(default_factory=list)
    regexes: list[re.Pattern[str]] = field(default_factory=list)

    @classmethod
    def build(cls, entries: Iterable[tuple[str, str]]) -> Warninglists:
        lists = cls()
        for kind, value in entries:
            if kind == "string":
                lists.strings.add(value.lower())
            elif kind == "hostname":
                lists.hostnames.add(canon_domain(value) or value.lower())
            elif kind == "cidr":
                lists.networks.append(ipaddress.ip_network(value, strict=False))
            elif kind == "substring":
                lists.substrings.append(value.lower())
            elif kind == "regex":
                lists.regexes.append(re.compile(value))
        return lists

    def __bool__(self) -> bool:
        return bool(
            self.strings or self.hostnames or self.networks or self.substrings or self.regexes
        )

    def listed(self, kind: str, value: str) -> bool:
        """Whether an indicator (type, canonical value) is a known-benign value."""
        low = value.lower()
        if low in self.strings or any(s in low for s in self.substrings):
            return True
        if any(r.search(value) for r in self.regexes):
            return True
        host = url_host(value) if kind == "url" else value if kind == "domain" else None
        if host is None and kind == "email":
            host = value.rpartition("@")[2]
        if host and any(name in self.hostnames for name in parent_domains(host)):
            return True
        if kind in ("ipv4", "ipv6", "cidr") and self.networks:
            network = ipaddress.ip_network(value, strict=False)
            return any(
                network.version == n.version and network.subnet_of(n)  # type: ignore[arg-type]
                for n in self.networks
            )
        return False
