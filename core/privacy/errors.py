"""The one error type of `core.privacy`: input about a data subject was rejected."""

from __future__ import annotations

from core.errors import ValidationError


class PrivacyError(ValidationError):
    """A BSN, data subject id or read purpose was rejected; `field` names it, `problem` says why.

    The message never quotes the value (it may be a BSN), so it is safe to log, to store next
    to a dead-lettered record and to show. A ValidationError, so pages and the API answer 400
    naming the field; collectors turn it into their ParseError where they call in.
    """
