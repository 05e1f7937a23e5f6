"""Indicator types and their canonical values: one normaliser for feeds, events and exports.

A feed value and an event field meet only if both went through `normalise` (or, on the hot
path, the cheap per-type `canon_*` functions it uses), so `EVIL.example.` in a feed still matches
`evil.example` in a DNS log. A bad value raises `ValidationError` naming the field and the
problem; importers turn that into a located issue and count the indicator as rejected.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from core.errors import ValidationError

TYPES: tuple[str, ...] = (
    "ipv4", "ipv6", "cidr", "domain", "url", "md5", "sha1", "sha256", "email", "user_agent",
)  # fmt: skip
HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64}
TLP_LEVELS: tuple[str, ...] = ("clear", "green", "amber", "amber+strict", "red")
MAX_VALUE = 2048
_HEX = re.compile(r"^[0-9a-f]+$")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def canon_ip(text: str) -> str | None:
    """The canonical address, or None when `text` is not one."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def canon_domain(text: str) -> str | None:
    """Lower case without the trailing dot, IDNA-encoded; None when not a host name."""
    name = text.strip().rstrip(".").lower()
    if not name or len(name) > 253 or "." not in name:
        return None
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if not all(_LABEL.match(label) for label in name.split(".")):
        return None
    return name


def parent_domains(name: str) -> list[str]:
    """`a.b.evil.example` -> itself, `b.evil.example`, `evil.example` (not the bare TLD)."""
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def canon_url(text: str) -> str | None:
    """Scheme and host lower case, default ports dropped, fragment dropped; None if no URL."""
    raw = text.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https", "ftp") or not parts.hostname:
        return None
    host = canon_ip(parts.hostname.strip("[]")) or canon_domain(parts.hostname)
    if host is None:
        return None
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443, "ftp": 21}[parts.scheme.lower()]
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def url_host(url: str) -> str | None:
    """The host of a canonical URL (for warninglists of host names)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host


def canon_email(text: str) -> str | None:
    local, at, domain = text.strip().lower().rpartition("@")
    if not at or not local or " " in local:
        return None
    host = canon_domain(domain)
    return f"{local}@{host}" if host else None


def normalise(kind: str, value: object, *, field: str = "value") -> tuple[str, str]:
    """(type, canonical value); an address with a prefix becomes `cidr` (or stays an address
    for /32 and /128). ValidationError names `field` for an unknown type or a bad value."""
    if kind not in TYPES:
        raise ValidationError(field, f"unknown indicator type {kind!r}; known: {', '.join(TYPES)}")
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must be a non-empty text")
    if len(value) > MAX_VALUE:
        raise ValidationError(field, f"longer than {MAX_VALUE} characters")
    text = value.strip()
    if kind in ("ipv4", "ipv6", "cidr"):
        return _network(kind, text, field)
    if kind in HASH_LENGTHS:
        digest = text.lower()
        if len(digest) != HASH_LENGTHS[kind] or not _HEX.match(digest):
            raise ValidationError(field, f"not a {kind} hash ({HASH_LENGTHS[kind]} hex digits)")
        return kind, digest
    if kind == "user_agent":
        return kind, text
    canon = {"domain": canon_domain, "url": canon_url, "email": canon_email}[kind](text)
    if canon is None:
        raise ValidationError(field, f"not a valid {kind}: {text[:80]!r}")
    return kind, canon


def _network(kind: str, text: str, field: str) -> tuple[str, str]:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValidationError(field, f"not an IP address or network: {text[:80]!r}") from None
    if network.num_addresses == 1:
        address = network.network_address
        return ("ipv4" if address.version == 4 else "ipv6"), str(address)
    if kind != "cidr" and "/" not in text:
        raise ValidationError(field, f"not an IP address: {text[:80]!r}")
    return "cidr", str(network)


def check_tlp(value: object, *, field: str = "tlp") -> str:
    """`TLP:AMBER`, `amber`, `tlp:clear` (and the old `white`) -> the TLP 2.0 name."""
    if not isinstance(value, str):
        raise ValidationError(field, f"must be one of {', '.join(TLP_LEVELS)}")
    name = value.strip().lower().removeprefix("tlp:")
    name = "clear" if name == "white" else name
    if name not in TLP_LEVELS:
        raise ValidationError(field, f"unknown TLP {value!r}; known: {', '.join(TLP_LEVELS)}")
    return name
