"""Re-identification of a pseudonym: purpose, two approvals, a time limit, an audit.

Why verification and not a vault: pseudonyms are one-way HMACs of the BSN, and the platform
stores no BSN anywhere. A pseudonym→BSN vault would turn the SOC into a second population
register, a target worth stealing whose contents no detection needs. Instead, once a request
is approved by the DPO and an incident manager (two different people, neither the requester),
an authorised person looks the candidate BSN up in a source the municipality already controls
(the BRP or the case system) and the platform only *confirms* whether it matches the pseudonym.
The BSN is pseudonymised in memory and never stored or logged; attempts per request are capped
so an approval cannot become a brute-force oracle. Every step is written to the audit log, and
each verification counts as a read of that resident's data in the "who viewed my data" report.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import Role
from core.audit import record
from core.clock import Clock
from core.errors import ConflictError, NotFoundError
from core.privacy.errors import PrivacyError
from core.privacy.models import ReidentificationRequest
from core.privacy.pseudonyms import PSEUDONYM_PREFIX, Pseudonymiser
from core.privacy.read_audit import SUBJECTS_KEY

APPROVAL_WINDOW = timedelta(days=3)
VALIDITY = timedelta(hours=24)
MAX_ATTEMPTS = 5
# A verification is a read of the data subject's data: the access report lists it.
VERIFIED_ACTION = "reidentification.verified"
# Who may ask; analysts work with pseudonyms and are the usual requesters.
REQUESTER_ROLES = frozenset({Role.ANALYST, Role.INCIDENT_MANAGER, Role.DPO})
APPROVER_ROLES = frozenset({Role.DPO, Role.INCIDENT_MANAGER})


def _text(value: str, field: str, limit: int) -> str:
    cleaned = " ".join(value.split())
    if len(cleaned) < 5:
        raise PrivacyError(field, "state it in at least 5 characters")
    if len(cleaned) > limit:
        raise PrivacyError(field, f"must be at most {limit} characters")
    return cleaned


def _get(db: Session, request_id: int) -> ReidentificationRequest:
    row = db.get(ReidentificationRequest, request_id)
    if row is None:
        raise NotFoundError(f"re-identification request {request_id} does not exist")
    return row


def request_reidentification(
    *, db: Session, pseudonym: str, purpose: str, actor: str, actor_role: Role, clock: Clock
) -> ReidentificationRequest:
    """Open a request for one pseudonym with a stated purpose; audited, in the caller's unit."""
    if actor_role not in REQUESTER_ROLES:
        raise ConflictError("your role cannot request re-identification")
    if not pseudonym.startswith(PSEUDONYM_PREFIX) or not 4 <= len(pseudonym) <= 64:
        raise PrivacyError("pseudonym", "expected a pseudonym (rp_...)")
    clean_purpose = _text(purpose, "purpose", 500)
    now = clock.now()
    row = ReidentificationRequest(
        pseudonym=pseudonym,
        purpose=clean_purpose,
        requested_by=actor,
        requested_at=now,
        status="pending",
        expires_at=now + APPROVAL_WINDOW,
        attempts=0,
    )
    db.add(row)
    db.flush()
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="reidentification.requested",
        object_type="reidentification_request",
        object_id=str(row.id),
        purpose=clean_purpose,
        details={"pseudonym": pseudonym},
    )
    return row


def approve(
    *, db: Session, request_id: int, actor: str, actor_role: Role, clock: Clock
) -> ReidentificationRequest:
    """Add the DPO's or the incident manager's approval; both make it valid for VALIDITY."""
    row = _get(db, request_id)
    now = clock.now()
    if row.current_status(now) != "pending":
        raise ConflictError(f"request {request_id} is {row.current_status(now)}, not pending")
    if actor_role not in APPROVER_ROLES:
        raise ConflictError("only the DPO and an incident manager approve re-identification")
    if actor == row.requested_by:
        raise ConflictError("the requester cannot approve their own request")
    if actor in (row.dpo_approver, row.manager_approver):
        raise ConflictError("two different people must approve")
    if actor_role is Role.DPO:
        if row.dpo_approver is not None:
            raise ConflictError("the DPO has already approved")
        row.dpo_approver, row.dpo_approved_at = actor, now
    else:
        if row.manager_approver is not None:
            raise ConflictError("an incident manager has already approved")
        row.manager_approver, row.manager_approved_at = actor, now
    complete = row.dpo_approver is not None and row.manager_approver is not None
    if complete:
        row.status = "approved"
        row.expires_at = now + VALIDITY
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="reidentification.approved",
        object_type="reidentification_request",
        object_id=str(row.id),
        details={"as": actor_role.value, "complete": complete, "pseudonym": row.pseudonym},
    )
    return row


def reject(
    *, db: Session, request_id: int, reason: str, actor: str, actor_role: Role, clock: Clock
) -> ReidentificationRequest:
    """Refuse a pending request with a reason; audited, in the caller's unit."""
    row = _get(db, request_id)
    if actor_role not in APPROVER_ROLES:
        raise ConflictError("only the DPO and an incident manager decide on re-identification")
    if row.current_status(clock.now()) != "pending":
        raise ConflictError(f"request {request_id} is not pending")
    row.status = "rejected"
    row.rejected_by = actor
    row.rejection_reason = _text(reason, "reason", 500)
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="reidentification.rejected",
        object_type="reidentification_request",
        object_id=str(row.id),
        details={"reason": row.rejection_reason, "pseudonym": row.pseudonym},
    )
    return row


def verify_candidate(
    *,
    db: Session,
    request_id: int,
    candidate: str,
    pseudonymiser: Pseudonymiser,
    actor: str,
    clock: Clock,
) -> bool:
    """Whether `candidate` (a BSN) is the data subject behind the request's pseudonym.

    A candidate that is no valid BSN raises PrivacyError naming `bsn` and costs no attempt.
    Only the requester or the approving DPO may verify, only while the approval is valid, and
    at most MAX_ATTEMPTS times. The candidate is never stored or logged.
    """
    row = _get(db, request_id)
    now = clock.now()
    if row.current_status(now) != "approved":
        raise ConflictError(f"request {request_id} is {row.current_status(now)}, not approved")
    if actor not in (row.requested_by, row.dpo_approver):
        raise ConflictError("only the requester or the approving DPO may verify")
    if row.attempts >= MAX_ATTEMPTS:
        raise ConflictError(f"the {MAX_ATTEMPTS} verification attempts are used up")
    match = pseudonymiser.pseudonym(candidate, field="bsn") == row.pseudonym
    row.attempts += 1
    if match:
        row.matched = True
    record(
        db=db,
        clock=clock,
        actor=actor,
        action=VERIFIED_ACTION,
        object_type="reidentification_request",
        object_id=str(row.id),
        purpose=row.purpose,
        details={
            "match": match,
            "attempt": row.attempts,
            SUBJECTS_KEY: [row.pseudonym],
        },
    )
    return match


def list_requests(*, db: Session, limit: int = 200) -> list[ReidentificationRequest]:
    """Requests, newest first."""
    query = select(ReidentificationRequest).order_by(ReidentificationRequest.id.desc())
    return list(db.scalars(query.limit(limit)))


def latest_request_for(
    *, db: Session, pseudonym: str, requested_by: str | None = None
) -> ReidentificationRequest | None:
    """The newest request for one pseudonym (optionally by one requester), or None."""
    query = select(ReidentificationRequest).where(ReidentificationRequest.pseudonym == pseudonym)
    if requested_by is not None:
        query = query.where(ReidentificationRequest.requested_by == requested_by)
    return db.scalar(query.order_by(ReidentificationRequest.id.desc()).limit(1))
