"""MISP feeds (a folder or URL with `manifest.json` + `<uuid>.json`) and MISP JSON exports,
read through PyMISP's `MISPEvent` so the format's rules are MISP's, not ours.

Only attributes flagged `to_ids` become indicators (MISP's own "use for detection" flag);
others and unsupported types are counted as skipped. TLP comes from the attribute's tags, else
the event's; ATT&CK technique ids from `misp-galaxy:mitre-attack-pattern` tags (`... - T1566`);
confidence from the event's threat level (1 high 90, 2 medium 70, 3 low 50; undefined: the
source default). A bad event or attribute is one located issue; the rest of the feed loads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import orjson
from pymisp import MISPAttribute, MISPEvent
from pymisp.exceptions import PyMISPError

from core.errors import ValidationError
from intel.schemas import IndicatorRecord, Parsed
from intel.values import check_tlp, normalise

# MISP attribute type -> our type; `ip` resolves to ipv4/ipv6/cidr by the value.
MISP_TYPES: dict[str, str] = {
    "ip-src": "ip", "ip-dst": "ip", "domain": "domain", "hostname": "domain", "url": "url",
    "link": "url", "md5": "md5", "sha1": "sha1", "sha256": "sha256", "email": "email",
    "email-src": "email", "email-dst": "email", "user-agent": "user_agent",
}  # fmt: skip
# Composite types `a|b`: which half holds the indicator, and its type.
MISP_COMPOSITE: dict[str, tuple[int, str]] = {
    "ip-src|port": (0, "ip"), "ip-dst|port": (0, "ip"), "domain|ip": (0, "domain"),
    "hostname|port": (0, "domain"), "filename|md5": (1, "md5"), "filename|sha1": (1, "sha1"),
    "filename|sha256": (1, "sha256"),
}  # fmt: skip
THREAT_CONFIDENCE = {1: 90, 2: 70, 3: 50}
_TECHNIQUE = re.compile(r"\b(T\d{4}(?:\.\d{3})?)\b")

Fetch = Callable[[str], bytes]  # name inside the feed -> bytes (file or HTTP)


def read_feed(fetch: Fetch, location: str) -> Parsed:
    """A MISP feed: `manifest.json` names the events, each read from `<uuid>.json`."""
    parsed = Parsed()
    manifest_name = f"{location.rstrip('/')}/manifest.json"
    try:
        manifest = orjson.loads(fetch("manifest.json"))
    except (OSError, orjson.JSONDecodeError) as exc:
        parsed.reject(manifest_name, "(document)", f"cannot read the manifest: {exc}")
        return parsed
    if not isinstance(manifest, dict):
        parsed.reject(manifest_name, "(document)", "must be an object of event uuid -> metadata")
        return parsed
    for uuid in manifest:
        name = f"{uuid}.json"
        if not re.fullmatch(r"[0-9a-fA-F-]{36}", str(uuid)):
            parsed.reject(manifest_name, str(uuid)[:60], "not an event uuid")
            continue
        try:
            document = orjson.loads(fetch(name))
        except (OSError, orjson.JSONDecodeError) as exc:
            parsed.reject(f"{location.rstrip('/')}/{name}", "(document)", f"cannot read: {exc}")
            continue
        _read_event(document, f"{location.rstrip('/')}/{name}", parsed)
    return parsed


def read_export(data: bytes, source: str) -> Parsed:
    """A MISP JSON export: one `{"Event": ...}`, a list of them, or `{"response": [...]}`."""
    parsed = Parsed()
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        parsed.reject(source, "(document)", f"not JSON: {exc}")
        return parsed
    if isinstance(document, dict) and isinstance(document.get("response"), list):
        document = document["response"]
    events = document if isinstance(document, list) else [document]
    for index, event in enumerate(events):
        _read_event(event, source, parsed, where=f"[{index}]" if len(events) > 1 else "")
    return parsed


def _read_event(document: Any, source: str, parsed: Parsed, where: str = "") -> None:
    event = MISPEvent()
    try:
        if not isinstance(document, Mapping):
            raise ValueError("an event must be a JSON object")
        event.load(dict(document))
    except (PyMISPError, ValueError, TypeError, KeyError, AttributeError) as exc:
        parsed.reject(source, f"{where}Event" if where else "Event", f"not a MISP event: {exc}")
        return
    event_tags = [tag.name for tag in event.tags]
    group = f"misp:{event.uuid}" if getattr(event, "uuid", None) else None
    threat = _int(getattr(event, "threat_level_id", None))
    confidence = THREAT_CONFIDENCE.get(threat) if threat is not None else None
    event_day = _as_datetime(getattr(event, "date", None))
    attributes = [(f"{where}Event.Attribute[{i}]", a) for i, a in enumerate(event.attributes)]
    for o_index, obj in enumerate(event.objects):
        attributes += [
            (f"{where}Event.Object[{o_index}].Attribute[{i}]", a)
            for i, a in enumerate(obj.attributes)
        ]
    for path, attribute in attributes:
        record = _record(attribute, path, source, parsed, event_tags, event_day)
        if record is not None:
            record.group_key = group
            record.confidence = confidence
            record.description = str(getattr(event, "info", "") or "")[:500] or None
            parsed.records.append(record)


def _record(
    attribute: MISPAttribute,
    path: str,
    source: str,
    parsed: Parsed,
    event_tags: list[str],
    event_day: datetime | None,
) -> IndicatorRecord | None:
    misp_type = str(getattr(attribute, "type", ""))
    value = getattr(attribute, "value", None)
    if not getattr(attribute, "to_ids", False):
        parsed.skipped += 1
        return None
    if misp_type in MISP_COMPOSITE:
        half, kind = MISP_COMPOSITE[misp_type]
        pieces = str(value).split("|")
        if len(pieces) != 2:
            parsed.reject(source, f"{path}.value", f"a {misp_type} value needs one '|'")
            return None
        value = pieces[half]
    elif misp_type in MISP_TYPES:
        kind = MISP_TYPES[misp_type]
    else:
        parsed.skipped += 1
        return None
    tags = [tag.name for tag in getattr(attribute, "tags", [])]
    try:
        if kind == "ip":
            kind = "cidr" if "/" in str(value) else "ipv4"
            kind = "ipv6" if kind == "ipv4" and ":" in str(value) else kind
        kind, canonical = normalise(kind, value, field=f"{path}.value")
        tlp = _tlp(tags, f"{path}.Tag") or _tlp(event_tags, "Event.Tag")
    except ValidationError as exc:
        parsed.reject(source, exc.field, exc.problem)
        return None
    seen = _as_datetime(getattr(attribute, "timestamp", None)) or event_day
    first = _as_datetime(getattr(attribute, "first_seen", None)) or seen
    last = _as_datetime(getattr(attribute, "last_seen", None)) or seen
    return IndicatorRecord(
        type=kind,
        value=canonical,
        tlp=tlp,
        first_seen=first,
        last_seen=last,
        techniques=_techniques([*event_tags, *tags]),
        external_id=str(getattr(attribute, "uuid", "") or "") or None,
    )


def _tlp(tags: Iterable[str], where: str) -> str | None:
    for tag in tags:
        if tag.lower().startswith("tlp:"):
            return check_tlp(tag, field=where)
    return None


def _techniques(tags: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for tag in tags:
        if "mitre-attack" in tag:
            found += [t for t in _TECHNIQUE.findall(tag) if t not in found]
    return tuple(found)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None
