"""One check per kind of evidence: read what the platform already did, conclude a status.

Each check reads another domain only through that domain's service functions (or the kernel:
the audit log) and returns an `Outcome`: a status, the reason in English and Dutch, and the
evidence items it read. Exercise data never counts as real evidence. A check that cannot read
its source says so (`not_evidenced`), it never crashes the run. The checks live by subject in
`checks_logging`, `checks_response` and `checks_people`.
"""

from __future__ import annotations

from collections.abc import Callable

from compliance import checks_logging, checks_people, checks_response
from compliance.context import SCHEDULER, CheckContext
from compliance.schemas import Measure, Outcome

CHECKS: dict[str, Callable[[CheckContext, Measure], Outcome]] = {
    "audit_integrity": checks_logging.audit_integrity,
    "log_fields": checks_logging.log_fields,
    "detection_coverage": checks_logging.detection_coverage,
    "threat_sharing": checks_logging.threat_sharing,
    "incident_handling": checks_response.incident_handling,
    "incident_records": checks_response.incident_records,
    "breach_deadlines": checks_response.breach_deadlines,
    "continuity_exercise": checks_response.continuity_exercise,
    "awareness_published": checks_people.awareness_published,
    "processing_register": checks_people.processing_register,
}

__all__ = ["CHECKS", "SCHEDULER", "CheckContext"]
