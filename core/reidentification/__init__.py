"""Re-identification of resident pseudonyms: purpose, two approvals, expiry, audit.

See `core.reidentification.service` for why this verifies a candidate BSN instead of keeping
a pseudonym→BSN vault.
"""

from core.reidentification.models import ReidentificationRequest
from core.reidentification.service import (
    APPROVAL_WINDOW,
    MAX_ATTEMPTS,
    VALIDITY,
    approve,
    get_request,
    latest_request_for,
    list_requests,
    reject,
    request_reidentification,
    verify_candidate,
)

__all__ = [
    "APPROVAL_WINDOW",
    "MAX_ATTEMPTS",
    "VALIDITY",
    "ReidentificationRequest",
    "approve",
    "get_request",
    "latest_request_for",
    "list_requests",
    "reject",
    "request_reidentification",
    "verify_candidate",
]
