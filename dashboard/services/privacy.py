"""Orchestration of the DPO's tools: BSN → pseudonym, audited report, BSN verification.

The BSN never leaves this call: it is checked, pseudonymised in memory, and only the
pseudonym is passed on, stored or logged.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from collectors.access_report import AccessReport, access_report
from collectors.parsers.base import ParseError
from collectors.pseudonym import Pseudonymiser
from core.audit import record
from core.clock import Clock
from core.errors import ValidationError
from core.reidentification.service import verify_candidate
from core.store.base import EventStore


def pseudonym_of(pseudonymiser: Pseudonymiser, bsn: str, *, field: str = "bsn") -> str:
    """The pseudonym of a valid BSN; ValidationError naming `field` (never echoing the BSN)."""
    cleaned = bsn.strip().replace(" ", "").replace(".", "")
    try:
        return pseudonymiser.pseudonym(cleaned, field=field)
    except ParseError as exc:
        raise ValidationError(field, "not a valid BSN (9 digits passing the 11-test)") from exc


def resident_report(
    *,
    db: Session,
    store: EventStore,
    pseudonymiser: Pseudonymiser,
    clock: Clock,
    actor: str,
    bsn: str,
    include_names: bool,
    names_reason: str | None,
) -> AccessReport:
    """Build the report and audit that it was made (with the names decision and its reason)."""
    pseudonym = pseudonym_of(pseudonymiser, bsn)
    reason = " ".join((names_reason or "").split()) or None
    if include_names and (reason is None or len(reason) < 5):
        raise ValidationError("names_reason", "state why employee names are included")
    if reason is not None and len(reason) > 500:
        raise ValidationError("names_reason", "at most 500 characters")
    from ldv.service import partner_names

    report = access_report(
        db=db,
        store=store,
        pseudonym=pseudonym,
        include_names=include_names,
        generated_at=clock.now(),
        partner_names=partner_names(db=db),
    )
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="access_report.generated",
        object_type="resident",
        object_id=pseudonym,
        purpose="inzageverzoek (art. 15 AVG)",
        details={
            "include_names": include_names,
            "names_reason": reason if include_names else None,
            "records": len(report.records),
        },
    )
    return report


def verify_bsn(
    *,
    db: Session,
    pseudonymiser: Pseudonymiser,
    clock: Clock,
    actor: str,
    request_id: int,
    bsn: str,
) -> bool:
    """Check a candidate BSN against an approved re-identification request."""
    cleaned = bsn.strip().replace(" ", "").replace(".", "")
    pseudonym_of(pseudonymiser, cleaned)  # validates first: a typo costs no attempt
    return verify_candidate(
        db=db,
        request_id=request_id,
        candidate=cleaned,
        pseudonymise=pseudonymiser.pseudonym,
        actor=actor,
        clock=clock,
    )
