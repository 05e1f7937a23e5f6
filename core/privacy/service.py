"""The public surface of `core.privacy` (pseudonyms, re-identification, the access report and
the read audit); callers outside the package import from here. The vocabulary is in the
package docstring and docs/privacy.md."""

from __future__ import annotations

from core.privacy.access_report import AccessReport
from core.privacy.bsn import pseudonym_of, resident_report, verify_bsn
from core.privacy.errors import PrivacyError
from core.privacy.models import ReidentificationRequest
from core.privacy.pseudonyms import (
    PSEUDONYM_PREFIX,
    PSEUDONYM_RE,
    Pseudonymiser,
    pseudonyms_in,
    valid_bsns_in,
)
from core.privacy.read_audit import (
    PurposeRequired,
    Reader,
    audit_personal_read,
    audit_read,
    clean_purpose,
    require_purpose,
)
from core.privacy.reidentification import (
    approve,
    latest_request_for,
    list_requests,
    reject,
    request_reidentification,
    verify_candidate,
)

__all__ = [
    "PSEUDONYM_PREFIX",
    "PSEUDONYM_RE",
    "AccessReport",
    "PrivacyError",
    "Pseudonymiser",
    "PurposeRequired",
    "Reader",
    "ReidentificationRequest",
    "approve",
    "audit_personal_read",
    "audit_read",
    "clean_purpose",
    "latest_request_for",
    "list_requests",
    "pseudonym_of",
    "pseudonyms_in",
    "reject",
    "request_reidentification",
    "require_purpose",
    "resident_report",
    "valid_bsns_in",
    "verify_bsn",
    "verify_candidate",
]
