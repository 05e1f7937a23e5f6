"""Police report (aangifte) package: Dutch PDF, evidence, chain of custody, signed manifest.

The ZIP holds `aangifte-incident-N.pdf`, every evidence file, `CHAIN_OF_CUSTODY.txt` (who
collected each file and when, earlier exports, this export), `MANIFEST.sha256` (the format
`sha256sum -c` reads) and `MANIFEST.sha256.sig`: an Ed25519 signature of the manifest with the
platform key (`core.signed_zip`, the `audit_signing_key` secret), whose
public key is in `PUBLIC_KEY.txt` and is pinned by whoever receives it. A later change to any
file breaks its hash; a changed manifest breaks the signature. Exercise incidents are refused:
drill data never reaches a real authority.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from core.clock import Clock, local_text
from core.config import Settings
from core.errors import ConflictError
from core.signed_zip import build_signed_zip, verify_signed_zip
from playbooks.evidence import list_evidence, read_evidence
from playbooks.incidents import alert_ids, comments, get_incident, log, timeline
from playbooks.notify import TEMPLATE_DIR
from playbooks.observables import observables_of

CUSTODY = "CHAIN_OF_CUSTODY.txt"
# Observable kinds that can point at a suspect (a resident pseudonym never goes to the police).
SUSPECT_KINDS = ("ip", "domain", "hash", "user")


@dataclass(frozen=True, slots=True)
class PolicePackage:
    """The ZIP, its manifest (member → SHA-256) and the hex public key that verifies it."""

    zip: bytes
    manifest: dict[str, str]
    public_key: str


def _custody(db: Session, incident_id: int, actor: str, now: str, zone: str) -> str:
    """Times in the municipality's zone with their UTC offset (one clock, exact anywhere)."""
    lines = ["Chain of custody / bewijsketen", f"Incident #{incident_id}", ""]
    for item in list_evidence(db=db, incident_id=incident_id):
        lines.append(
            f"{local_text(item.added_at, zone)}  verzameld door / collected by {item.added_by}: "
            f"{item.filename} sha256={item.sha256} ({item.size} bytes)"
        )
    for entry in timeline(db=db, incident_id=incident_id):
        if entry.action == "incident.police_exported":
            lines.append(
                f"{local_text(entry.at, zone)}  geëxporteerd door / exported by {entry.actor} "
                f"(manifest sha256={entry.details.get('manifest_sha256')})"
            )
    lines.append(f"{now}  geëxporteerd door / exported by {actor} (dit pakket / this package)")
    return "\n".join(lines) + "\n"


def _report(db: Session, incident_id: int, actor: str, now: str, custody: str, zone: str) -> bytes:
    from weasyprint import HTML  # noqa: PLC0415 - weasyprint: +1.19 s on start-up

    incident = get_incident(db=db, incident_id=incident_id)
    observables = observables_of(db=db, incident_id=incident_id)
    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
    )
    environment.filters["local"] = lambda moment: local_text(moment, zone) if moment else "-"
    html = environment.get_template("export/aangifte.html.j2").render(
        incident=incident,
        alerts=alert_ids(db=db, incident_id=incident_id),
        systems=[o.value for o in observables if o.kind == "host"],
        suspects=[o for o in observables if o.kind in SUSPECT_KINDS],
        notes=[c.body for c in comments(db=db, incident_id=incident_id)],
        evidence=list_evidence(db=db, incident_id=incident_id),
        custody=custody.splitlines()[3:],
        generated=now,
        actor=actor,
    )
    pdf = HTML(string=html).write_pdf()
    assert pdf is not None
    return bytes(pdf)


def export_police_package(
    *, db: Session, clock: Clock, settings: Settings, incident_id: int, actor: str
) -> PolicePackage:
    """Build the signed package; records `incident.police_exported`. Exercises are refused."""
    incident = get_incident(db=db, incident_id=incident_id)
    if incident.exercise_id is not None:
        raise ConflictError(
            f"exercise: incident {incident_id} is OEFENING/EXERCISE {incident.exercise_id}; "
            "exercise data is never exported for the police"
        )
    zone = settings.timezone
    now = local_text(clock.now(), zone)
    custody = _custody(db, incident_id, actor, now, zone)
    members: dict[str, bytes] = {
        f"aangifte-incident-{incident_id}.pdf": _report(db, incident_id, actor, now, custody, zone),
        CUSTODY: custody.encode("utf-8"),
    }
    for item in list_evidence(db=db, incident_id=incident_id):
        members[f"evidence/{item.id:04d}-{item.filename}"] = read_evidence(
            settings=settings, item=item
        )
    package = build_signed_zip(settings=settings, members=members)
    log(
        db=db,
        clock=clock,
        incident_id=incident_id,
        actor=actor,
        action="incident.police_exported",
        files=len(members),
        manifest_sha256=package.manifest_sha256,
    )
    db.flush()
    return PolicePackage(zip=package.zip, manifest=package.manifest, public_key=package.public_key)


def verify_police_package(data: bytes, *, public_key: str) -> list[str]:
    """Problems found in a package (empty: every hash matches and the signature is valid)."""
    return verify_signed_zip(data, public_key=public_key)
