"""Case work beyond the status: merging incidents, linking alerts by hand, safe markdown for
comments, action origins.

Merge moves alerts, observables, comments, evidence and playbook runs (with their tasks) to the
survivor; the merged incident is closed with reason `merged` and points to the survivor. The
audit log is append-only, so timelines are not moved: the survivor's timeline reads the
merged incident's entries as well (`playbooks.incidents.timeline`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import ConflictError, ValidationError
from core.store.base import AlertStore, StoredAlert
from playbooks import observables
from playbooks.incidents import _milestones, get_incident, log
from playbooks.models import (
    AdhocTask,
    Comment,
    Evidence,
    Incident,
    IncidentAlert,
    IncidentObservable,
    Observable,
    PlaybookRun,
    RunStep,
)
from playbooks.schemas import SEVERITIES


def merge(*, db: Session, clock: Clock, source_id: int, target_id: int, actor: str) -> Incident:
    """Merge incident `source_id` into `target_id`; returns the survivor.

    Raises:
        ValidationError: the same incident twice.
        ConflictError: either is closed or merged, or one is an exercise and the other not.
    """
    if source_id == target_id:
        raise ValidationError("target", "an incident cannot be merged into itself")
    source = get_incident(db=db, incident_id=source_id)
    target = get_incident(db=db, incident_id=target_id)
    for incident in (source, target):
        if incident.status == "closed" or incident.merged_into is not None:
            raise ConflictError(f"target: incident {incident.id} is closed; reopen it first")
    if source.exercise_id != target.exercise_id:
        raise ConflictError("target: exercise and real incidents are never merged")
    _stop_runs(db, clock, source_id, target_id, actor)
    moved: dict[str, int] = {}
    for table in (IncidentAlert, Comment, Evidence, PlaybookRun, AdhocTask):
        result = db.execute(
            update(table).where(table.incident_id == source_id).values(incident_id=target_id)
        )
        moved[table.__tablename__] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    have = set(
        db.scalars(
            select(IncidentObservable.observable_id).where(
                IncidentObservable.incident_id == target_id
            )
        )
    )
    links = list(
        db.scalars(select(IncidentObservable).where(IncidentObservable.incident_id == source_id))
    )
    for item in links:
        if item.observable_id in have:
            db.delete(item)
        else:
            item.incident_id = target_id
    moved["observables"] = len(links)
    now = clock.now()
    target.severity = max(
        (source.severity, target.severity), key=("low", "medium", "high", "critical").index
    )
    target.personal_data = target.personal_data or source.personal_data
    target.updated_at = now
    previous = source.status
    source.status = "closed"
    source.close_reason = "merged"
    source.close_summary = f"merged into #{target_id}"
    source.merged_into = target_id
    source.updated_at = now
    _milestones(source, "closed", now)
    log(
        db=db,
        clock=clock,
        incident_id=target_id,
        actor=actor,
        action="incident.merged_in",
        merged=source_id,
        moved=moved,
    )
    log(
        db=db,
        clock=clock,
        incident_id=source_id,
        actor=actor,
        action="incident.merged_into",
        survivor=target_id,
        **{"from": previous, "to": "closed"},
    )
    db.flush()
    return target


def _stop_runs(db: Session, clock: Clock, source_id: int, target_id: int, actor: str) -> None:
    """The merged incident's running playbooks stop: the survivor's own run does the work.

    Steps not started or waiting for a person are skipped; a step in flight on a worker is left
    to finish (its result still lands on the timeline). The runs move with the incident.
    """
    for run in db.scalars(
        select(PlaybookRun).where(
            PlaybookRun.incident_id == source_id, PlaybookRun.status == "running"
        )
    ):
        for step in db.scalars(select(RunStep).where(RunStep.run_id == run.id)):
            if step.status in ("pending", "open", "awaiting_approval", "manual"):
                step.status = "skipped"
                step.completed_at = clock.now()
                step.completed_by = actor
                step.result = {"reason": f"incident merged into #{target_id}"}
        run.status = "cancelled"
        run.finished_at = clock.now()
        log(
            db=db,
            clock=clock,
            incident_id=source_id,
            actor=actor,
            action="run.cancelled",
            run_id=run.id,
            reason=f"merged into #{target_id}",
        )


def link_alerts(
    *,
    db: Session,
    clock: Clock,
    store: AlertStore,
    incident_id: int,
    alert_ids: Sequence[str],
    actor: str,
) -> list[str]:
    """Link alerts (read from the alert store) to an open incident by hand; returns the ids
    newly linked. The caller commits, then sets their status to `in_incident` in the store.

    An alert already in this incident is skipped; one in another incident is refused (merge the
    incidents instead). Each link lands on the timeline with who linked it, and the alert's
    hosts, users and addresses become observables of the incident, as routing does.

    Raises:
        ValidationError: no alerts given.
        NotFoundError: an unknown incident or alert.
        ConflictError: the incident is closed or merged, an alert is in another incident, or an
            exercise alert meets a real incident (or the other way round).
    """
    wanted = list(dict.fromkeys(a.strip() for a in alert_ids if a.strip()))
    if not wanted:
        raise ValidationError("alert_ids", "give at least one alert to link")
    incident = get_incident(db=db, incident_id=incident_id)
    alerts = [store.get(alert_id) for alert_id in wanted]
    if incident.status == "closed" or incident.merged_into is not None:
        raise ConflictError(f"incident: incident {incident.id} is closed; reopen it first")
    linked: list[str] = []
    for alert in alerts:
        current = db.scalar(
            select(IncidentAlert.incident_id).where(IncidentAlert.alert_id == alert.id)
        )
        if current == incident.id:
            continue
        if current is not None:
            raise ConflictError(
                f"alert_ids: alert {alert.id} is already in incident #{current}; "
                "merge the incidents instead"
            )
        if alert.exercise_id != incident.exercise_id:
            raise ConflictError(
                f"alert_ids: alert {alert.id} and incident {incident.id} are not both exercise "
                "(or both real); they are never linked"
            )
        _attach(db, clock, incident, alert, actor)
        linked.append(alert.id)
    incident.updated_at = clock.now()
    db.flush()
    return linked


def _attach(db: Session, clock: Clock, incident: Incident, alert: StoredAlert, actor: str) -> None:
    db.add(
        IncidentAlert(
            incident_id=incident.id,
            alert_id=alert.id,
            rule_id=alert.rule_id,
            level=alert.level,
            alert_created_at=alert.created_at,
            added_at=clock.now(),
        )
    )
    log(
        db=db,
        clock=clock,
        incident_id=incident.id,
        actor=actor,
        action="incident.alert_linked",
        alert_id=alert.id,
        rule_id=alert.rule_id,
        level=alert.level,
        reason=f"linked by hand by {actor}",
    )
    level = {"informational": "low"}.get(alert.level, alert.level)
    if level in SEVERITIES and SEVERITIES.index(level) > SEVERITIES.index(incident.severity):
        log(
            db=db,
            clock=clock,
            incident_id=incident.id,
            actor=actor,
            action="incident.severity_changed",
            **{"from": incident.severity, "to": level},
            reason=f"alert {alert.id} has level {alert.level}",
        )
        incident.severity = level
    incident.last_alert_at = max(incident.last_alert_at or alert.created_at, alert.created_at)
    observables.link(
        db=db,
        clock=clock,
        incident_id=incident.id,
        observables=observables.from_alert(
            alert.body, host_name=alert.host_name, user_name=alert.user_name
        ),
        actor=actor,
        source=f"alert:{alert.id}",
    )


_INLINE = (
    (re.compile(r"`([^`\n]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*\n]+)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![*\w])\*([^*\n]+)\*(?!\w)"), r"<em>\1</em>"),
)


def render_markdown(text: str) -> Markup:
    """A small, safe markdown subset: paragraphs, `-` lists, **bold**, *italic*, `code`.

    Everything is escaped first; only the tags made here are HTML, so a comment can never
    carry a script, a link or an attribute.
    """
    blocks: list[str] = []
    items: list[str] = []

    def inline(line: str) -> str:
        html = str(escape(line))
        for pattern, replacement in _INLINE:
            html = pattern.sub(replacement, html)
        return html

    def flush_list() -> None:
        if items:
            blocks.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
            items.clear()

    paragraph: list[str] = []
    for raw in [*text.splitlines(), ""]:
        line = raw.rstrip()
        if line.lstrip().startswith(("- ", "* ")):
            if paragraph:
                blocks.append("<p>" + "<br>".join(paragraph) + "</p>")
                paragraph = []
            items.append(inline(line.lstrip()[2:]))
        elif not line.strip():
            flush_list()
            if paragraph:
                blocks.append("<p>" + "<br>".join(paragraph) + "</p>")
                paragraph = []
        else:
            flush_list()
            paragraph.append(inline(line))
    return Markup("".join(blocks))


# Observable kinds whose value comes from log content a sender controls (host names and
# addresses in syslog, UDP syslog in particular can be spoofed by anyone on the network).
SPOOFABLE_KINDS = frozenset({"host", "ip", "domain", "user"})


def param_origins(*, db: Session, step: RunStep, incident_id: int) -> list[dict[str, Any]]:
    """Where each `$observable.<kind>` parameter of an action step takes its value from.

    The source of the observable link ("alert:<id>" or "manual") tells an approver whether the
    target was typed by a person or read from log content that could be spoofed.
    """
    origins: list[dict[str, Any]] = []
    for name, value in (step.spec.get("params") or {}).items():
        match = re.fullmatch(r"\$observable\.(\w+)", str(value))
        if match is None:
            origins.append(
                {"param": name, "value": value, "source": "playbook", "spoofable": False}
            )
            continue
        kind = match.group(1)
        row = db.execute(
            select(Observable.value, IncidentObservable.source)
            .join(IncidentObservable, IncidentObservable.observable_id == Observable.id)
            .where(IncidentObservable.incident_id == incident_id, Observable.kind == kind)
            .order_by(IncidentObservable.id)
            .limit(1)
        ).first()
        if row is None:
            origins.append({"param": name, "value": None, "source": f"no {kind} observable yet"})
            continue
        from_log = str(row.source).startswith("alert:")
        origins.append(
            {
                "param": name,
                "value": row.value,
                "source": row.source,
                "spoofable": from_log and kind in SPOOFABLE_KINDS,
            }
        )
    return origins
