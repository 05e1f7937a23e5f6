"""STIX 2.1 bundles: indicators whose pattern is a simple comparison, parsed with the `stix2`
library's pattern tooling (the STIX pattern grammar of `stix2-patterns`), never by regex.

Matched patterns: one observation, or observations joined by OR, whose comparisons are `=`
(or `ISSUBSET` for an address range) joined by OR, on `ipv4-addr:value`, `ipv6-addr:value`,
`domain-name:value`, `url:value`, `file:hashes.'MD5'|'SHA-1'|'SHA-256'`, `email-addr:value`,
`email-message:from_ref.value` and
`network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'`. Any AND,
FOLLOWEDBY, qualifier or other operator needs a correlation engine, not a set lookup: such an
indicator is rejected with the reason. TLP comes from `object_marking_refs` (the TLP 1 marking
definitions and TLP 2.0 `TLP:...` named markings), ATT&CK ids from `indicates` relationships to
attack patterns and from the indicator's own `mitre-attack` external references.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
import stix2
from stix2.exceptions import STIXError
from stix2.pattern_visitor import create_pattern_object
from stix2.patterns import (
    EqualityComparisonExpression,
    IsSubsetComparisonExpression,
    ObservationExpression,
    OrBooleanExpression,
    OrObservationExpression,
    ParentheticalExpression,
)
from stix2patterns.exceptions import ParseException

from core.errors import ValidationError
from intel.schemas import IndicatorRecord, Parsed
from intel.values import check_tlp, normalise

TLP_IDS: dict[str, str] = {
    stix2.TLP_WHITE.id: "clear",
    stix2.TLP_GREEN.id: "green",
    stix2.TLP_AMBER.id: "amber",
    stix2.TLP_RED.id: "red",
}
# (object type, property path) -> our indicator type ("ip": decided by the value).
PATHS: dict[tuple[str, tuple[str, ...]], str] = {
    ("ipv4-addr", ("value",)): "ip",
    ("ipv6-addr", ("value",)): "ip",
    ("domain-name", ("value",)): "domain",
    ("url", ("value",)): "url",
    ("file", ("hashes", "MD5")): "md5",
    ("file", ("hashes", "SHA-1")): "sha1",
    ("file", ("hashes", "SHA1")): "sha1",
    ("file", ("hashes", "SHA-256")): "sha256",
    ("file", ("hashes", "SHA256")): "sha256",
    ("email-addr", ("value",)): "email",
    ("email-message", ("from_ref", "value")): "email",
    ("email-message", ("sender_ref", "value")): "email",
    (
        "network-traffic",
        ("extensions", "http-request-ext", "request_header", "User-Agent"),
    ): "user_agent",
}
SIMPLE = "only '=' (or ISSUBSET for ranges) comparisons joined by OR are matched"


class _Unsupported(Exception):
    pass


def read_bundle(data: bytes, source: str) -> Parsed:
    """Indicators of one bundle; each bad object is a located issue, the others load."""
    parsed = Parsed()
    try:
        bundle = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        parsed.reject(source, "(document)", f"not JSON: {exc}")
        return parsed
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle":
        parsed.reject(source, "type", "a STIX 2.1 bundle has type 'bundle'")
        return parsed
    objects = bundle.get("objects")
    if not isinstance(objects, list):
        parsed.reject(source, "objects", "must be a list of STIX objects")
        return parsed
    raw = [obj for obj in objects if isinstance(obj, dict)]
    markings = _tlp_markings(raw)
    techniques = _techniques_by_indicator(raw)
    group = str(bundle.get("id") or "") or None
    for index, obj in enumerate(objects):
        if not isinstance(obj, dict) or obj.get("type") != "indicator":
            if not isinstance(obj, dict):
                parsed.reject(source, f"objects[{index}]", "must be an object")
            continue
        where = f"objects[{index}]"
        try:
            indicator = stix2.parse(obj, allow_custom=True, version="2.1")
        except (STIXError, ValueError, TypeError, KeyError) as exc:
            parsed.reject(source, where, f"not a valid STIX 2.1 indicator: {exc}")
            continue
        _indicator(indicator, where, source, parsed, markings, techniques, group)
    return parsed


def _indicator(
    indicator: Any,
    where: str,
    source: str,
    parsed: Parsed,
    markings: Mapping[str, str],
    techniques: Mapping[str, list[str]],
    group: str | None,
) -> None:
    if indicator.pattern_type != "stix":
        parsed.reject(source, f"{where}.pattern_type", f"{indicator.pattern_type!r} is not 'stix'")
        return
    try:
        comparisons = _comparisons(indicator.pattern)
    except (ParseException, STIXError, ValueError) as exc:
        parsed.reject(source, f"{where}.pattern", f"cannot parse: {exc}")
        return
    except _Unsupported as exc:
        parsed.reject(source, f"{where}.pattern", f"{exc}: {SIMPLE}")
        return
    tlp = next(
        (markings[ref] for ref in indicator.get("object_marking_refs", []) if ref in markings),
        None,
    )
    own = [
        str(ref.get("external_id"))
        for ref in indicator.get("external_references", [])
        if ref.get("source_name") == "mitre-attack" and ref.get("external_id")
    ]
    found = tuple(dict.fromkeys([*own, *techniques.get(indicator.id, [])]))
    for kind, value in comparisons:
        try:
            if kind == "ip":
                kind = "cidr" if "/" in value else ("ipv6" if ":" in value else "ipv4")
            kind, canonical = normalise(kind, value, field=f"{where}.pattern")
        except ValidationError as exc:
            parsed.reject(source, exc.field, exc.problem)
            continue
        parsed.records.append(
            IndicatorRecord(
                type=kind,
                value=canonical,
                confidence=indicator.get("confidence"),
                tlp=tlp,
                first_seen=_dt(indicator.valid_from),
                last_seen=_dt(indicator.modified),
                valid_until=_dt(indicator.get("valid_until")),
                techniques=found,
                group_key=group,
                external_id=indicator.id,
                description=(indicator.get("name") or indicator.get("description") or None),
                revoked=bool(indicator.get("revoked", False)),
            )
        )


def _comparisons(pattern: str) -> list[tuple[str, str]]:
    """(type, value) of each OR'ed comparison; `_Unsupported` names what is not simple."""
    tree = create_pattern_object(pattern, version="2.1")
    found: list[tuple[str, str]] = []
    _walk(tree, found)
    if not found:
        raise _Unsupported("no comparison on a supported object path")
    return found


def _walk(node: Any, found: list[tuple[str, str]]) -> None:
    if isinstance(node, OrObservationExpression | OrBooleanExpression):
        for operand in node.operands:
            _walk(operand, found)
    elif isinstance(node, ObservationExpression | ParentheticalExpression):
        _walk(node.expression if hasattr(node, "expression") else node.operand, found)
    elif isinstance(node, EqualityComparisonExpression | IsSubsetComparisonExpression):
        if node.negated:
            raise _Unsupported("a negated comparison (NOT)")
        path = tuple(str(part.property_name) for part in node.lhs.property_path)
        kind = PATHS.get((node.lhs.object_type_name, path))
        if kind is None:
            return  # an OR'ed comparison we do not match; the others still count
        if isinstance(node, IsSubsetComparisonExpression) and kind != "ip":
            raise _Unsupported("ISSUBSET on a non-address")
        found.append((kind, str(node.rhs.value)))
    else:
        raise _Unsupported(f"{type(node).__name__.removesuffix('Expression')} is not simple")


def _tlp_markings(objects: list[dict[str, Any]]) -> dict[str, str]:
    """Marking id -> TLP name: the TLP 1 constants plus TLP 2.0 markings in the bundle."""
    found = dict(TLP_IDS)
    for obj in objects:
        if obj.get("type") != "marking-definition" or not isinstance(obj.get("id"), str):
            continue
        definition = obj.get("definition")
        name = obj.get("name")
        if isinstance(definition, dict) and isinstance(definition.get("tlp"), str):
            name = definition["tlp"]
        if isinstance(name, str):
            try:
                found[obj["id"]] = check_tlp(name)
            except ValidationError:
                continue  # a marking that is not TLP (a statement, a PAP level)
    return found


def _techniques_by_indicator(objects: list[dict[str, Any]]) -> dict[str, list[str]]:
    technique_of: dict[str, str] = {}
    for obj in objects:
        if obj.get("type") == "attack-pattern":
            for ref in obj.get("external_references", []) or []:
                if isinstance(ref, dict) and ref.get("source_name") == "mitre-attack":
                    technique_of[str(obj.get("id"))] = str(ref.get("external_id"))
    result: dict[str, list[str]] = {}
    for obj in objects:
        if obj.get("type") == "relationship" and obj.get("relationship_type") == "indicates":
            technique = technique_of.get(str(obj.get("target_ref")))
            if technique:
                result.setdefault(str(obj.get("source_ref")), []).append(technique)
    return result


def _dt(value: Any) -> datetime | None:
    """stix2's timestamps (STIXdatetime, a datetime subclass) as plain aware datetimes."""
    if isinstance(value, datetime):
        return datetime.fromtimestamp(value.timestamp(), value.tzinfo)
    return None
