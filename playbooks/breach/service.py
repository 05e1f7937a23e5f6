"""The breach context's service facade: everything routes, commands, tasks and other domains
may call on breach reporting.

`playbooks/breach/` is a bounded context inside `playbooks/`: the dashboard and the CLI import
it only through this module and its models and schemas (tests/test_import_contract.py), and
every name in `__all__` is used by a page, a command, a task or another domain
(tests/test_reachable_services.py). The modules behind it (register, reports, clocks, forms,
letters, export, ...) stay internal and may change without notice.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from playbooks.breach import clocks as _clocks
from playbooks.breach.ap_notification import (
    create_followup,
    draft_notification,
    finalise_notification,
    followups,
    update_notification,
)
from playbooks.breach.assessment import decide, record_assessment
from playbooks.breach.clocks import (
    CLOCK_REPORT,
    Deadline,
    all_deadlines,
    deadlines_since,
    time_left,
)
from playbooks.breach.clocks import local as local_time
from playbooks.breach.clocks import show as show_time
from playbooks.breach.exercises import delete_exercise_artefacts, exercise_artefacts
from playbooks.breach.export import (
    content_sha256,
    register_csv,
    register_pdf,
    report_json,
    report_pdf,
    specs_for,
)
from playbooks.breach.form_specs import NIS2_FORMS as NIS2_KINDS
from playbooks.breach.form_specs import check_form_file
from playbooks.breach.handoffs import (
    accept_pending_handoffs,
    breach_for_incident,
    open_for_incident,
)
from playbooks.breach.letters import (
    TEXT_KEYS as LETTER_TEXT_KEYS,
)
from playbooks.breach.letters import (
    approve_letter_batch,
    batches_of,
    create_letter_batch,
    get_batch,
    preview_letters,
    recipients,
    release_letter_batch,
)
from playbooks.breach.models import Breach
from playbooks.breach.nis2 import draft_report as draft_nis2_report
from playbooks.breach.nis2 import finalise_report as finalise_nis2_report
from playbooks.breach.nis2 import update_report as update_nis2_report
from playbooks.breach.processing_register import (
    RegisteredActivity,
    RegisterFileError,
    activities_by_uri,
)
from playbooks.breach.processing_register import load_file as load_processing_register
from playbooks.breach.processing_register import systems as processing_register
from playbooks.breach.register import (
    close_breach,
    get_breach,
    history,
    list_breaches,
    mark_not_a_breach,
    open_breach,
    open_from_alert,
    start_assessment,
    update_breach,
)
from playbooks.breach.reports import FieldSpec, get_report, list_reports, missing_fields
from playbooks.breach.resident_requests import KINDS as REQUEST_KINDS
from playbooks.breach.resident_requests import (
    answer_request,
    extend_request,
    get_request,
    list_requests,
    mark_report_produced,
    record_request,
    requests_csv,
    requests_pdf,
)
from playbooks.breach.subjects import (
    affected_subjects,
    awaiting,
    create_batch_for_subjects,
    identification_status,
    identify_recipient,
)


def deadlines(*, db: Session, clock: Clock, settings: Settings, breach_id: int) -> list[Deadline]:
    """The legal clocks of one breach with their status now, earliest first."""
    breach: Breach = get_breach(db=db, breach_id=breach_id)
    return _clocks.deadlines(db=db, clock=clock, settings=settings, breach=breach)


def missing(report_kind: str, content: dict[str, dict[str, object]]) -> list[str]:
    """What a report of this kind still lacks before it can be finalised."""
    return missing_fields(specs_for(report_kind), content)


__all__ = [
    "CLOCK_REPORT",
    "LETTER_TEXT_KEYS",
    "NIS2_KINDS",
    "REQUEST_KINDS",
    "FieldSpec",
    "RegisterFileError",
    "RegisteredActivity",
    "accept_pending_handoffs",
    "activities_by_uri",
    "affected_subjects",
    "all_deadlines",
    "answer_request",
    "approve_letter_batch",
    "awaiting",
    "batches_of",
    "breach_for_incident",
    "check_form_file",
    "close_breach",
    "content_sha256",
    "create_batch_for_subjects",
    "create_followup",
    "create_letter_batch",
    "deadlines",
    "deadlines_since",
    "decide",
    "delete_exercise_artefacts",
    "draft_nis2_report",
    "draft_notification",
    "exercise_artefacts",
    "extend_request",
    "finalise_nis2_report",
    "finalise_notification",
    "followups",
    "get_batch",
    "get_breach",
    "get_report",
    "get_request",
    "history",
    "identification_status",
    "identify_recipient",
    "list_breaches",
    "list_reports",
    "list_requests",
    "load_processing_register",
    "local_time",
    "mark_not_a_breach",
    "mark_report_produced",
    "missing",
    "open_breach",
    "open_for_incident",
    "open_from_alert",
    "preview_letters",
    "processing_register",
    "recipients",
    "record_assessment",
    "record_request",
    "register_csv",
    "register_pdf",
    "release_letter_batch",
    "report_json",
    "report_pdf",
    "requests_csv",
    "requests_pdf",
    "show_time",
    "specs_for",
    "start_assessment",
    "time_left",
    "update_breach",
    "update_nis2_report",
    "update_notification",
]
