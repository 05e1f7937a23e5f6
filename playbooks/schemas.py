"""Shapes of the playbooks domain: the playbook YAML format (pydantic) and service results.

The playbook models describe structure only; `library.py` maps their errors back to file and
line, and `library.CHECKS` adds the rules that span fields (unique step ids, known actions, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.accounts.models import Role

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
AlertLevel = Literal["informational", "low", "medium", "high", "critical"]
ALERT_LEVELS: tuple[AlertLevel, ...] = ("informational", "low", "medium", "high", "critical")
ObservableKind = Literal["ip", "user", "host", "hash", "domain", "pseudonym"]
OBSERVABLE_KINDS: tuple[ObservableKind, ...] = ("ip", "user", "host", "hash", "domain", "pseudonym")
GroupBy = Literal["rule", "host", "user", "pseudonym"]
RoleName = Literal[
    "analyst", "incident_manager", "crisis_team", "dpo", "exercise_controller", "admin"
]

# `$observable.ip` in an action's params: the incident's first observable of that kind.
PARAM_REFERENCE = re.compile(r"^\$observable\.([a-z]+)$")
_ID = r"^[a-z0-9][a-z0-9_-]{0,99}$"
_TECHNIQUE = r"^T\d{4}(\.\d{3})?$"

# Every role that can act in a playbook; the auditor only reads (compliance), never approves.
assert set(RoleName.__args__) == {role.value for role in Role} - {Role.AUDITOR.value}  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(_Strict):
    """Which alerts start this playbook, and how they group into one incident.

    A condition left empty does not filter; an alert must satisfy every given condition, and
    among `rule_ids`, `tags` and `techniques` at least one listed value must match.
    """

    rule_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    techniques: tuple[Annotated[str, Field(pattern=_TECHNIQUE)], ...] = ()
    min_level: AlertLevel = "low"
    personal_data: bool | None = None
    group_by: tuple[GroupBy, ...] = ("rule", "host")
    window_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    priority: int = Field(default=0, ge=-100, le=100)

    @field_validator("group_by")
    @classmethod
    def _group_by_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must name at least one of rule, host, user, pseudonym")
        return value


# Parameters whose value comes from alert content a sender controls.
SPOOFABLE_PARAMS = frozenset(f"$observable.{kind}" for kind in ("host", "ip", "domain", "user"))


class Approval(_Strict):
    """Four-eyes rule: a second person with `role` must approve before the action runs."""

    role: RoleName


class _Step(_Strict):
    id: str = Field(pattern=_ID)
    title: str = Field(min_length=3, max_length=300)
    owner_role: RoleName = "analyst"
    sla_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 90)
    description: str | None = None


class TaskStep(_Step):
    """Manual work for a person with `owner_role`; the run waits until it is completed."""

    type: Literal["task"]
    checklist: tuple[Annotated[str, Field(min_length=2)], ...] = Field(min_length=1)


class ActionStep(_Step):
    """An automated response action: an Ansible play run by a Celery worker."""

    type: Literal["action"]
    action: str = Field(pattern=_ID)
    params: dict[str, str] = Field(default_factory=dict)
    approval: Approval | None = None

    @model_validator(mode="after")
    def _spoofable_needs_approval(self) -> ActionStep:
        """A target read from log content (host names, addresses) can be spoofed over UDP
        syslog: such an action runs only after a person checked and approved it."""
        spoofable = [name for name, value in self.params.items() if value in SPOOFABLE_PARAMS]
        if spoofable and self.approval is None:
            raise ValueError(
                f"approval: params {', '.join(spoofable)} come from log content that can be "
                "spoofed; add `approval: {role: incident_manager}`"
            )
        return self


class DecisionOption(_Strict):
    id: str = Field(pattern=_ID)
    label: str = Field(min_length=2)
    # Step to continue at (later in the playbook); steps in between are skipped.
    next: str | None = None


class DecisionStep(_Step):
    """A choice a person makes; the chosen option says where the run continues."""

    type: Literal["decision"]
    question: str = Field(min_length=3)
    options: tuple[DecisionOption, ...] = Field(min_length=2)


class NotifyStep(_Step):
    """A message from a template to an e-mail recipient group and/or a signed webhook."""

    type: Literal["notify"]
    template: str = Field(default="incident_update", pattern=_ID)
    email_to: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()


class EscalateStep(_Step):
    """Escalate to the crisis team: marks the incident and notifies the `crisis_team` group."""

    type: Literal["escalate"]
    reason: str = Field(min_length=3)
    email_to: tuple[str, ...] = ("crisis_team",)


class HandoffStep(_Step):
    """Hand the incident to the DPO's breach workflow (a pending hand-off it picks up)."""

    type: Literal["handoff"]
    target: Literal["breach"] = "breach"
    reason: str = Field(min_length=3)


Step = Annotated[
    TaskStep | ActionStep | DecisionStep | NotifyStep | EscalateStep | HandoffStep,
    Field(discriminator="type"),
]


class Playbook(_Strict):
    """One playbook file."""

    id: str = Field(pattern=_ID)
    title: str = Field(min_length=3, max_length=300)
    version: int = Field(ge=1)
    description: str = Field(min_length=3)
    severity: Severity = "medium"
    auto_start: bool = True
    trigger: Trigger
    steps: tuple[Step, ...] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class LoadedPlaybook:
    """A valid playbook with where it came from; the hash pins a run to the file it started on."""

    playbook: Playbook
    path: str
    sha256: str


# --- service results ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of an incident's timeline, read from the audit log."""

    seq: int
    at: datetime
    actor: str
    action: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ObservableLink:
    """An observable of an incident and how many other incidents share it."""

    kind: str
    value: str
    other_incidents: tuple[int, ...]

    @property
    def seen_elsewhere(self) -> int:
        return len(self.other_incidents)


@dataclass(frozen=True, slots=True)
class OverdueStep:
    """A step past its SLA that is not finished."""

    incident_id: int
    run_id: int
    step_id: str
    title: str
    owner_role: str | None
    status: str
    due_at: datetime
    overdue_by_seconds: float


@dataclass(frozen=True, slots=True)
class IncidentMetrics:
    """Seconds from creation to acknowledge, containment and closure (None: not yet)."""

    incident_id: int
    time_to_acknowledge: float | None
    time_to_contain: float | None
    time_to_close: float | None


@dataclass(frozen=True, slots=True)
class MonthlyMetrics:
    """Means over incidents created in one month (`YYYY-MM`), in seconds."""

    month: str
    incidents: int
    mtta: float | None
    mttc: float | None
    mttr: float | None


@dataclass(frozen=True, slots=True)
class RouteResult:
    """What routing did with one alert."""

    alert_id: str
    incident_id: int
    created: bool
    run_id: int | None = None
    to_enqueue: tuple[tuple[str, tuple[Any, ...]], ...] = field(default=())
    # Why it landed there, in words (shown after triage and on the alert page).
    reason: str = ""
