"""The catalogue of measures as authored data (pydantic), and evidence and status values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

STATUSES = ("met", "at_risk", "not_met", "not_evidenced")
Status = Literal["met", "at_risk", "not_met", "not_evidenced"]
# The checks the platform knows; each reads evidence from one domain's service functions.
CheckKind = Literal[
    "audit_integrity",
    "log_fields",
    "incident_handling",
    "incident_records",
    "breach_deadlines",
    "continuity_exercise",
    "detection_coverage",
    "awareness_published",
    "processing_register",
    "threat_sharing",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    """Dutch (B1) and English wording of one text."""

    nl: str = Field(min_length=3, max_length=600)
    en: str = Field(min_length=3, max_length=600)


class Measure(_Strict):
    """One BIO2 measure the platform can evidence, and how it is checked."""

    id: str = Field(pattern=r"^\d{1,2}\.\d{2}\.\d{2}$")
    control: str = Field(pattern=r"^\d{1,2}\.\d{2}$")
    title: Text
    owner: str = Field(min_length=2, max_length=100)
    check: CheckKind
    evidence: Text
    every_days: int = Field(ge=1, le=1096)
    ensia: tuple[str, ...] = Field(min_length=1)
    params: dict[str, float] = Field(default_factory=dict)


class Control(_Strict):
    """A BIO2 control (e.g. 8.15 Logging) with its short title."""

    id: str = Field(pattern=r"^\d{1,2}\.\d{2}$")
    title: Text


class Catalogue(_Strict):
    """One edition of a framework's catalogue: a new edition is a new file."""

    framework: str = Field(pattern=r"^[a-z0-9-]{2,40}$")
    edition: str = Field(pattern=r"^[0-9A-Za-z.-]{1,40}$")
    title: str = Field(min_length=3, max_length=200)
    source: str = Field(min_length=3, max_length=300)
    controls: tuple[Control, ...] = Field(min_length=1)
    measures: tuple[Measure, ...] = Field(min_length=1)

    def measure(self, measure_id: str) -> Measure | None:
        return next((m for m in self.measures if m.id == measure_id), None)

    def control(self, control_id: str) -> Control | None:
        return next((c for c in self.controls if c.id == control_id), None)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One fact a check read from the platform: what, from where, when, and its data."""

    kind: str
    source: str
    at: datetime | None
    summary: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a check concluded for one measure, with the evidence it read."""

    status: Status
    reason: str  # English
    evidence: tuple[Evidence, ...] = ()
    nl: str = ""  # the same reason in Dutch
