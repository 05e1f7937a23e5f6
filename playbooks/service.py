"""The playbooks domain's public service API: what the dashboard, the CLI and other domains call.

Other domains import only this module (tests/test_import_contract.py). The functions live in
the sub-capability modules named beside each group below.
"""

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from playbooks.approvals import SYSTEM_ACTORS, approve_action, request_action
from playbooks.case_tasks import add_task, complete_adhoc_task, incident_of_task, tasks_of
from playbooks.casework import link_alerts, merge, param_origins, render_markdown
from playbooks.evidence import add_evidence, list_evidence
from playbooks.executor import execute_action, give_up, resume_runs
from playbooks.export import export_incident
from playbooks.incidents import (
    CLOSE_REASONS,
    OPEN_STATUSES,
    STATUSES,
    TRANSITIONS,
    add_comment,
    alert_ids,
    assign,
    change_status,
    check_assignee,
    close,
    comments,
    create_incident,
    created_per_slice,
    get_incident,
    incident_of_alert,
    list_incidents,
    set_severity,
    timeline,
)
from playbooks.library import PlaybookError, check_directory, load_file, load_library
from playbooks.metrics import incident_metrics, monthly_metrics
from playbooks.models import (
    ActionExecution,
    AdhocTask,
    Comment,
    Delivery,
    Evidence,
    Handoff,
    Incident,
    IncidentAlert,
    IncidentObservable,
    Observable,
    PlaybookRun,
    RunStep,
)
from playbooks.notify import DeliveryFailed, deliveries_of, send_mail
from playbooks.notify import render as render_notification
from playbooks.observables import add_observable, observables_of
from playbooks.police import export_police_package, verify_police_package
from playbooks.routing import route_alert, route_new_alerts
from playbooks.runs import (
    Units,
    accept_handoff,
    advance,
    complete_task,
    decide,
    find_step,
    get_run,
    get_step,
    handoffs_pending,
    overdue_steps,
    runs_of,
    start_run,
    steps_of,
)

__all__ = [
    "CLOSE_REASONS",
    "OPEN_STATUSES",
    "STATUSES",
    "SYSTEM_ACTORS",
    "TRANSITIONS",
    "DeliveryFailed",
    "PlaybookError",
    "Units",
    "accept_handoff",
    "add_comment",
    "add_evidence",
    "add_observable",
    "add_task",
    "advance",
    "alert_ids",
    "approve_action",
    "assign",
    "change_status",
    "check_assignee",
    "check_directory",
    "close",
    "comments",
    "complete_adhoc_task",
    "complete_task",
    "create_incident",
    "created_per_slice",
    "decide",
    "delete_exercise_artefacts",
    "deliveries_of",
    "execute_action",
    "exercise_artefacts",
    "export_incident",
    "export_police_package",
    "find_step",
    "get_incident",
    "get_run",
    "get_step",
    "give_up",
    "handoffs_pending",
    "incident_metrics",
    "incident_of_alert",
    "incident_of_task",
    "link_alerts",
    "list_evidence",
    "list_incidents",
    "load_file",
    "load_library",
    "merge",
    "monthly_metrics",
    "observables_of",
    "overdue_steps",
    "param_origins",
    "render_markdown",
    "render_notification",
    "request_action",
    "resume_runs",
    "route_alert",
    "route_new_alerts",
    "runs_of",
    "send_mail",
    "set_severity",
    "start_run",
    "steps_of",
    "tasks_of",
    "timeline",
    "verify_police_package",
]


# -- drills: what an exercise left behind, and removing it (asked for by drills.rollback) ------


def exercise_artefacts(*, db: Session, exercise_id: str) -> dict[str, list[dict[str, Any]]]:
    """Incidents, started playbook steps and hand-offs of one exercise, with times.

    The exercise's breaches are the breach context's (`playbooks.breach.service`): the breach
    context builds on this facade, so this one never calls it; drills ask both.
    """
    incidents = list(db.scalars(select(Incident).where(Incident.exercise_id == exercise_id)))
    ids = [incident.id for incident in incidents]
    steps = db.execute(
        select(RunStep.step_id, RunStep.started_at, PlaybookRun.incident_id)
        .join(PlaybookRun, RunStep.run_id == PlaybookRun.id)
        .where(PlaybookRun.incident_id.in_(ids), RunStep.started_at.is_not(None))
    ).all()
    handoffs = list(db.scalars(select(Handoff).where(Handoff.incident_id.in_(ids))))
    return {
        "incidents": [
            {"id": i.id, "created_at": i.created_at, "escalated": i.escalated, "title": i.title}
            for i in incidents
        ],
        "steps": [{"step": s, "started_at": at, "incident_id": inc} for s, at, inc in steps],
        "handoffs": [{"id": h.id, "target": h.target, "at": h.requested_at} for h in handoffs],
    }


def delete_exercise_artefacts(*, db: Session, exercise_id: str) -> dict[str, int]:
    """Delete every playbook row of one exercise (children first); no commit.

    The breach context removes its own rows (`playbooks.breach.service`), before this runs.
    Observables are shared across incidents: only those left without any incident go. The audit
    log is append-only and keeps the exercise's timeline entries.
    """
    removed: dict[str, int] = {}

    def gone(table: Any, where: Any) -> None:
        result = db.execute(delete(table).where(where))
        removed[table.__tablename__] = removed.get(table.__tablename__, 0) + int(
            result.rowcount or 0  # type: ignore[attr-defined]
        )

    incidents = select(Incident.id).where(Incident.exercise_id == exercise_id)
    runs = select(PlaybookRun.id).where(PlaybookRun.incident_id.in_(incidents))
    steps = select(RunStep.id).where(RunStep.run_id.in_(runs))
    linked = list(
        db.scalars(
            select(IncidentObservable.observable_id).where(
                IncidentObservable.incident_id.in_(incidents)
            )
        )
    )
    gone(ActionExecution, ActionExecution.run_step_id.in_(steps))
    for linked_to in (Delivery, Handoff):
        gone(linked_to, linked_to.incident_id.in_(incidents))
    gone(RunStep, RunStep.run_id.in_(runs))
    gone(PlaybookRun, PlaybookRun.incident_id.in_(incidents))
    for of_incident in (IncidentAlert, Comment, IncidentObservable, Evidence, AdhocTask):
        gone(of_incident, of_incident.incident_id.in_(incidents))
    gone(Incident, Incident.exercise_id == exercise_id)
    still_used = select(IncidentObservable.observable_id)
    gone(Observable, Observable.id.in_(linked) & Observable.id.not_in(still_used))
    return removed
