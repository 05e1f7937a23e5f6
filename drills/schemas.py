"""Pydantic models of a drill scenario (the YAML in `drills/scenarios/`) and of criteria.

A scenario follows the HSEEP master scenario events list (MSEL): timed injects for named
players, and expectations saying who should do what by when. Times are scenario minutes from
the start; an exercise may play them faster (`time_scale`) for a technical drill.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The crisis roles of a municipal cyber exercise (regulations.md section 5).
ROLES: dict[str, str] = {
    "burgemeester": "Burgemeester (mayor)",
    "gemeentesecretaris": "Gemeentesecretaris (municipal secretary)",
    "ciso": "CISO",
    "fg": "Functionaris gegevensbescherming (DPO)",
    "communicatie": "Communicatie (communications)",
    "it": "IT / ICT-beheer",
    "veiligheidsregio": "Liaison veiligheidsregio",
}
INJECT_KINDS = ("message", "alert", "press", "social", "phone", "email")
EXPECTATION_KINDS = ("manual", "detection", "incident", "playbook_step", "breach")
METRICS = ("detect", "escalate", "decide", "communicate")
MODES = ("tabletop", "technical")

Role = Literal[
    "burgemeester", "gemeentesecretaris", "ciso", "fg", "communicatie", "it", "veiligheidsregio"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Objective(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,50}$")
    text: str = Field(min_length=5)


class GripStep(_Strict):
    """When the scenario expects the crisis structure to scale up, and why."""

    level: int = Field(ge=0, le=5)
    by_minute: float = Field(ge=0)
    reason: str = Field(min_length=3)


class EventSpec(_Strict):
    """Synthetic events for the collectors: `count` copies of `template`, `{n}` numbered."""

    count: int = Field(default=1, ge=1, le=10_000)
    every_seconds: float = Field(default=1.0, ge=0, le=3600)
    template: dict[str, Any]


class Inject(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,50}$")
    at_minute: float = Field(ge=0, le=7 * 24 * 60)
    kind: Literal["message", "alert", "press", "social", "phone", "email"]
    to: tuple[Role, ...] = Field(min_length=1)
    sender: str = Field(default="Oefenleiding", alias="from")
    title: str = Field(min_length=3)
    text: str = Field(min_length=3)
    # For the controller only (a phone script, what to play); never shown to players.
    controller_note: str | None = None
    objectives: tuple[str, ...] = ()
    events: EventSpec | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ExpectationSpec(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,50}$")
    kind: Literal["manual", "detection", "incident", "playbook_step", "breach"] = "manual"
    role: Role
    within_minutes: float = Field(gt=0, le=7 * 24 * 60)
    text: str = Field(min_length=3)
    text_en: str | None = Field(default=None, min_length=3)  # the English report's wording
    metric: Literal["detect", "escalate", "decide", "communicate"] | None = None
    rule_id: str | None = None
    step: str | None = None
    objectives: tuple[str, ...] = ()


class Criterion(_Strict):
    """An objective measure, declared before start: `metric` within `limit_minutes`."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,50}$")
    metric: Literal["detect", "escalate", "decide", "communicate"]
    limit_minutes: float = Field(gt=0, le=30 * 24 * 60)
    text: str = Field(min_length=3)
    text_en: str | None = Field(default=None, min_length=3)  # the English report's wording


class Scenario(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,99}$")
    title: str = Field(min_length=3, max_length=300)
    title_en: str | None = Field(default=None, min_length=3, max_length=300)
    modes: tuple[Literal["tabletop", "technical"], ...] = Field(min_length=1)
    summary: str = Field(min_length=10)
    objectives: tuple[Objective, ...] = Field(min_length=1)
    roles: tuple[Role, ...] = Field(min_length=1)
    grip: tuple[GripStep, ...] = ()
    criteria: tuple[Criterion, ...] = ()
    msel: tuple[Inject, ...] = Field(min_length=1)
    expectations: tuple[ExpectationSpec, ...] = Field(min_length=1)


class LoadedScenario(BaseModel):
    """A valid scenario with where it came from and the hash of its file."""

    model_config = ConfigDict(frozen=True)

    scenario: Scenario
    path: str
    sha256: str


class Participant(_Strict):
    """A player of an exercise; invitations and injects go to `email`."""

    role: Role
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)
