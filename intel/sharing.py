"""Sharing back: an incident's observables as a STIX 2.1 bundle or a MISP event, with TLP.

Two refusals are absolute. An exercise incident (`exercise_id` set) is never exported: drill
data never reaches a real authority. And no resident's personal data leaves: only observables of
the kinds `ip`, `domain` and `hash` are shared; `user`, `host` and `pseudonym` observables name
people or internal systems and are withheld, as is any value holding a BSN or a resident
pseudonym (`collectors.service.holds_resident_identifier`), an e-mail address or spaces (a name
or an address), and internal IP addresses (private, loopback, link-local: a colleague's or a
resident's machine, and of no use to a CERT). The incident title is not shared either (it may
name a person): the export is named "<organisation> incident <id>". Each export is audited.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import stix2
from pymisp import MISPEvent
from sqlalchemy.orm import Session

from collectors import service as collectors
from core.audit import record
from core.clock import Clock
from core.errors import ValidationError
from playbooks import service as playbooks

EXPORT_FORMATS = ("stix", "misp")
SHAREABLE_KINDS = ("ip", "domain", "hash")
TLP_MARKINGS = {
    "clear": stix2.TLP_WHITE,
    "green": stix2.TLP_GREEN,
    "amber": stix2.TLP_AMBER,
    "red": stix2.TLP_RED,
}
HASH_NAMES = {32: ("MD5", "md5"), 40: ("SHA-1", "sha1"), 64: ("SHA-256", "sha256")}


@dataclass
class Export:
    """The document, how many observables it shares and why the others were withheld."""

    filename: str
    media_type: str
    content: str
    shared: int
    withheld: dict[str, int] = field(default_factory=dict)  # reason -> count, never the value


def withheld_reason(kind: str, value: str) -> str | None:
    """Why an observable may not leave the platform, or None when it may."""
    if kind not in SHAREABLE_KINDS:
        return f"{kind} observables name people or internal systems"
    if collectors.holds_resident_identifier(value):
        return "holds a resident identifier (BSN or pseudonym)"
    if "@" in value or any(ch.isspace() for ch in value):
        return "looks like an e-mail address, a name or an address"
    if kind == "ip":
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return "not an IP address"
        if not address.is_global:
            return "an internal or reserved address"
    if kind == "hash" and len(value) not in HASH_NAMES:
        return "not an MD5, SHA-1 or SHA-256 hash"
    return None


def export_incident(
    *,
    db: Session,
    clock: Clock,
    incident_id: int,
    fmt: str,
    tlp: str,
    organisation: str,
    actor: str,
) -> Export:
    """The incident's shareable observables as `fmt`; ValidationError for an exercise incident,
    an unknown format or TLP, or nothing left to share. Writes an audit entry (write unit)."""
    if fmt not in EXPORT_FORMATS:
        raise ValidationError("format", f"unknown {fmt!r}; known: {', '.join(EXPORT_FORMATS)}")
    tlp = tlp.lower().removeprefix("tlp:")
    if tlp not in TLP_MARKINGS:
        raise ValidationError("tlp", f"unknown {tlp!r}; known: {', '.join(TLP_MARKINGS)}")
    incident = playbooks.get_incident(db=db, incident_id=incident_id)
    if incident.exercise_id:
        raise ValidationError(
            "incident",
            f"incident {incident_id} belongs to exercise {incident.exercise_id}: exercise data "
            "is never shared with a real authority",
        )
    shared: list[tuple[str, str]] = []
    withheld: dict[str, int] = {}
    for link in playbooks.observables_of(db=db, incident_id=incident_id):
        reason = withheld_reason(link.kind, link.value)
        if reason is None:
            shared.append((link.kind, link.value))
        else:
            withheld[reason] = withheld.get(reason, 0) + 1
    if not shared:
        raise ValidationError("incident", f"incident {incident_id} has no shareable observables")
    name = f"{organisation} incident {incident_id}"
    if fmt == "stix":
        content = stix_bundle(shared, name=name, organisation=organisation, tlp=tlp, clock=clock)
        export = Export(f"incident-{incident_id}.stix.json", "application/stix+json", content, 0)
    else:
        content = misp_event(shared, name=name, tlp=tlp, clock=clock)
        export = Export(f"incident-{incident_id}.misp.json", "application/json", content, 0)
    export.shared, export.withheld = len(shared), withheld
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="intel.export",
        object_type="incident",
        object_id=str(incident_id),
        details={"format": fmt, "tlp": tlp, "shared": len(shared), "withheld": withheld},
    )
    return export


def _pattern(kind: str, value: str) -> str:
    if kind == "ip":
        object_type = "ipv6-addr" if ":" in value else "ipv4-addr"
        return f"[{object_type}:value = '{value}']"
    if kind == "domain":
        return f"[domain-name:value = '{value}']"
    return f"[file:hashes.'{HASH_NAMES[len(value)][0]}' = '{value}']"


def stix_bundle(
    observables: list[tuple[str, str]], *, name: str, organisation: str, tlp: str, clock: Clock
) -> str:
    """A STIX 2.1 bundle: our identity, one indicator per observable, a report tying them."""
    now = clock.now()
    marking = TLP_MARKINGS[tlp]
    identity = stix2.Identity(
        name=organisation,
        description="Municipality sharing through Dijkwacht.",
        identity_class="organization",
        created=now,
    )
    indicators = [
        stix2.Indicator(
            name=f"{kind} {value}",
            description=f"Observed during a security incident handled by {organisation}.",
            pattern=_pattern(kind, value),
            pattern_type="stix",
            valid_from=now,
            created=now,
            created_by_ref=identity.id,
            indicator_types=["malicious-activity"],
            object_marking_refs=[marking.id],
        )
        for kind, value in observables
    ]
    report = stix2.Report(
        name=name,
        description=f"Observables {organisation} shares from one of its security incidents.",
        published=now,
        created=now,
        created_by_ref=identity.id,
        report_types=["threat-report"],
        object_refs=[indicator.id for indicator in indicators],
        object_marking_refs=[marking.id],
    )
    bundle = stix2.Bundle(identity, marking, *indicators, report, allow_custom=False)
    return str(bundle.serialize(pretty=True))


def misp_event(observables: list[tuple[str, str]], *, name: str, tlp: str, clock: Clock) -> str:
    """A MISP event (PyMISP's model) with the TLP tag; attributes flagged for detection."""
    event = MISPEvent()
    event.info = name
    event.date = clock.now().date()
    event.add_tag(f"tlp:{tlp}")
    for kind, value in observables:
        misp_type = "ip-dst" if kind == "ip" else kind
        if kind == "hash":
            misp_type = HASH_NAMES[len(value)][1]
        event.add_attribute(misp_type, value, to_ids=True)
    text: Any = event.to_json(indent=2)
    return str(text)
