"""The DPO's entry points that take a BSN: its pseudonym, the access report, re-identification.

The BSN never leaves these calls: it is checked, pseudonymised in memory, and only the
pseudonym is passed on, stored or logged.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from core.audit import record
from core.clock import Clock
from core.privacy.access_report import AccessReport, access_report
from core.privacy.errors import PrivacyError
from core.privacy.pseudonyms import Pseudonymiser
from core.privacy.reidentification import verify_candidate
from core.store.base import EventStore


def _cleaned(bsn: str) -> str:
    """A BSN as people type it (spaces, dots) reduced to its digits' text."""
    return bsn.strip().replace(" ", "").replace(".", "")


def pseudonym_of(pseudonymiser: Pseudonymiser, bsn: str, *, field: str = "bsn") -> str:
    """The pseudonym of a valid BSN; PrivacyError naming `field` (never echoing the BSN)."""
    try:
        return pseudonymiser.pseudonym(_cleaned(bsn), field=field)
    except PrivacyError as exc:
        raise PrivacyError(field, "not a valid BSN (9 digits passing the 11-test)") from exc


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
    partner_names: Mapping[str, str],
) -> AccessReport:
    """Build the report and audit that it was made (with the names decision and its reason).

    `partner_names` names the LDV chain partners by id (`ldv.service.partner_names`)."""
    pseudonym = pseudonym_of(pseudonymiser, bsn)
    reason = " ".join((names_reason or "").split()) or None
    if include_names and (reason is None or len(reason) < 5):
        raise PrivacyError("names_reason", "state why employee names are included")
    if reason is not None and len(reason) > 500:
        raise PrivacyError("names_reason", "at most 500 characters")
    report = access_report(
        db=db,
        store=store,
        pseudonym=pseudonym,
        include_names=include_names,
        generated_at=clock.now(),
        partner_names=partner_names,
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
    cleaned = _cleaned(bsn)
    pseudonym_of(pseudonymiser, cleaned)  # validates first: a typo costs no attempt
    return verify_candidate(
        db=db,
        request_id=request_id,
        candidate=cleaned,
        pseudonymiser=pseudonymiser,
        actor=actor,
        clock=clock,
    )
