"""The playbooks domain's public service API: what the dashboard, the CLI and other domains call.

Other domains import only this module (tests/test_import_contract.py). The functions live in
the sub-capability modules named beside each group below.
"""

from playbooks.approvals import approve_action, request_action
from playbooks.evidence import add_evidence, list_evidence, read_evidence
from playbooks.executor import execute_action, give_up, resume_runs
from playbooks.export import AuthorityPackage, export_incident, render_report_html
from playbooks.incidents import (
    STATUSES,
    TRANSITIONS,
    add_comment,
    alert_ids,
    assign,
    change_status,
    comments,
    create_incident,
    get_incident,
    list_incidents,
    set_severity,
    timeline,
)
from playbooks.library import PlaybookError, check_directory, load_file, load_library
from playbooks.metrics import incident_metrics, monthly_metrics
from playbooks.notify import deliveries_of, verify_signature
from playbooks.observables import add_observable, observables_of
from playbooks.routing import route_alert, route_new_alerts
from playbooks.runs import (
    accept_handoff,
    advance,
    complete_task,
    decide,
    find_step,
    get_run,
    handoffs_pending,
    overdue_steps,
    runs_of,
    start_run,
    steps_of,
)

__all__ = [
    "STATUSES",
    "TRANSITIONS",
    "AuthorityPackage",
    "PlaybookError",
    "accept_handoff",
    "add_comment",
    "add_evidence",
    "add_observable",
    "advance",
    "alert_ids",
    "approve_action",
    "assign",
    "change_status",
    "check_directory",
    "comments",
    "complete_task",
    "create_incident",
    "decide",
    "deliveries_of",
    "execute_action",
    "export_incident",
    "find_step",
    "get_incident",
    "get_run",
    "give_up",
    "handoffs_pending",
    "incident_metrics",
    "list_evidence",
    "list_incidents",
    "load_file",
    "load_library",
    "monthly_metrics",
    "observables_of",
    "overdue_steps",
    "read_evidence",
    "render_report_html",
    "request_action",
    "resume_runs",
    "route_alert",
    "route_new_alerts",
    "runs_of",
    "set_severity",
    "start_run",
    "steps_of",
    "timeline",
    "verify_signature",
]
