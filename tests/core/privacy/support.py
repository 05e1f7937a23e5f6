"""Events the privacy tests share: an app-audit read of one data subject's record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.events import new_event


def app_audit_event(pseudonym: str, actor: str, when: datetime) -> dict[str, Any]:
    """A BRP view by `actor` of the data subject known as `pseudonym`, with a purpose."""
    return new_event(
        timestamp=when,
        dataset="app_audit.brp",
        original="{}",
        fields={
            "event.action": "view",
            "event.outcome": "success",
            "user.id": actor,
            "user.roles": ["medewerker-burgerzaken"],
            "dijkwacht.actor.department": "Burgerzaken",
            "dijkwacht.subject.pseudonym": pseudonym,
            "dijkwacht.case.purpose": "aanvraag paspoort",
        },
    )
