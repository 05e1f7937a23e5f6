"""Observables: indicators kept once and linked to every incident they turn up in.

"Seen in 3 other incidents" is the count of other incidents linked to the same (kind, value).
Values are normalised per kind (IP addresses canonical, hosts and domains lower case) so the
same indicator written two ways still links.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import ValidationError
from playbooks.incidents import get_incident, log
from playbooks.models import IncidentObservable, Observable
from playbooks.schemas import OBSERVABLE_KINDS, ObservableLink

# Where each kind is found in an alert body (flat ECS keys or nested mappings).
ALERT_FIELDS: dict[str, tuple[str, ...]] = {
    "ip": ("source.ip", "client.ip", "destination.ip"),
    "user": ("user.name", "user.target.name"),
    "host": ("host.name", "host.hostname"),
    "hash": ("file.hash.sha256", "process.hash.sha256", "file.hash.md5"),
    "domain": ("url.domain", "dns.question.name", "destination.domain"),
    "pseudonym": ("dijkwacht.subject.pseudonym",),
}


def normalise(kind: str, value: str) -> str:
    """The canonical form of an observable; ValidationError for a bad kind or value."""
    if kind not in OBSERVABLE_KINDS:
        raise ValidationError("kind", f"unknown kind {kind!r}; allowed: {OBSERVABLE_KINDS}")
    clean = str(value).strip()
    if not clean or len(clean) > 500:
        raise ValidationError("value", "must be 1-500 characters")
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(clean))
        except ValueError:
            raise ValidationError("value", f"{clean!r} is not an IP address") from None
    if kind in ("host", "domain", "hash"):
        return clean.lower().rstrip(".")
    return clean


def lookup(body: Mapping[str, Any], path: str) -> Any:
    """A value from an alert body by ECS path: a flat key, a nested path, or under `fields`."""
    for source in (body, body.get("fields"), body.get("group_by"), body.get("event")):
        if not isinstance(source, Mapping):
            continue
        if path in source:
            return source[path]
        current: Any = source
        for part in path.split("."):
            if not isinstance(current, Mapping) or part not in current:
                current = None
                break
            current = current[part]
        if current is not None:
            return current
    return None


def from_alert(
    body: Mapping[str, Any], *, host_name: str | None, user_name: str | None
) -> list[tuple[str, str]]:
    """Observables in an alert, as (kind, normalised value); unparseable values are skipped."""
    found: list[tuple[str, str]] = []
    candidates: list[tuple[str, Any]] = [("host", host_name), ("user", user_name)]
    for kind, paths in ALERT_FIELDS.items():
        candidates.extend((kind, lookup(body, path)) for path in paths)
    for kind, raw in candidates:
        values = raw if isinstance(raw, list) else [raw]
        for value in values:
            if value is None or isinstance(value, Mapping):
                continue
            try:
                pair = (kind, normalise(kind, str(value)))
            except ValidationError:
                continue  # an alert field that is not a valid indicator is not one
            if pair not in found:
                found.append(pair)
    return found


def link(
    *,
    db: Session,
    clock: Clock,
    incident_id: int,
    observables: Iterable[tuple[str, str]],
    actor: str,
    source: str,
) -> int:
    """Link observables to the incident in the caller's transaction; return how many are new."""
    added = 0
    now = clock.now()
    for kind, raw in observables:
        value = normalise(kind, raw)
        observable = db.scalar(
            select(Observable).where(Observable.kind == kind, Observable.value == value)
        )
        if observable is None:
            observable = Observable(kind=kind, value=value, first_seen=now)
            db.add(observable)
            db.flush()
        exists = db.scalar(
            select(IncidentObservable.id).where(
                IncidentObservable.incident_id == incident_id,
                IncidentObservable.observable_id == observable.id,
            )
        )
        if exists is not None:
            continue
        db.add(
            IncidentObservable(
                incident_id=incident_id, observable_id=observable.id, added_at=now, source=source
            )
        )
        log(
            db=db,
            clock=clock,
            incident_id=incident_id,
            actor=actor,
            action="incident.observable_added",
            kind=kind,
            value=value,
            source=source,
        )
        added += 1
    db.flush()
    return added


def add_observable(
    *, db: Session, clock: Clock, incident_id: int, kind: str, value: str, actor: str
) -> ObservableLink:
    """Add one observable by hand; returns it with its other incidents."""
    get_incident(db=db, incident_id=incident_id)
    clean = normalise(kind, value)
    link(
        db=db,
        clock=clock,
        incident_id=incident_id,
        observables=[(kind, clean)],
        actor=actor,
        source="manual",
    )
    db.flush()
    return next(o for o in observables_of(db=db, incident_id=incident_id) if o.value == clean)


def observables_of(*, db: Session, incident_id: int) -> list[ObservableLink]:
    """The incident's observables, each with the other incidents it was seen in."""
    rows = db.execute(
        select(Observable.id, Observable.kind, Observable.value)
        .join(IncidentObservable, IncidentObservable.observable_id == Observable.id)
        .where(IncidentObservable.incident_id == incident_id)
        .order_by(IncidentObservable.id)
    ).all()
    links = []
    for observable_id, kind, value in rows:
        others = db.scalars(
            select(IncidentObservable.incident_id)
            .where(
                IncidentObservable.observable_id == observable_id,
                IncidentObservable.incident_id != incident_id,
            )
            .order_by(IncidentObservable.incident_id)
        )
        links.append(ObservableLink(kind, value, tuple(others)))
    return links


def first_value(*, db: Session, incident_id: int, kind: str) -> str | None:
    """The incident's first observable of `kind` (actions take their target from it)."""
    return db.scalar(
        select(Observable.value)
        .join(IncidentObservable, IncidentObservable.observable_id == Observable.id)
        .where(IncidentObservable.incident_id == incident_id, Observable.kind == kind)
        .order_by(IncidentObservable.id)
        .limit(1)
    )
