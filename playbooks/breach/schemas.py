"""Input shapes of the breach services; pydantic errors become one `ValidationError` per field."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

import pydantic
from pydantic import Field, field_validator

from core.errors import ValidationError

BreachType = Literal["confidentiality", "integrity", "availability"]
Decision = Literal["no_notification", "notify_ap", "notify_ap_and_subjects"]

_Model = TypeVar("_Model", bound=pydantic.BaseModel)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a time zone (naive times are ambiguous across DST)")
    return value


class BreachFields(pydantic.BaseModel):
    """Facts of a breach the register keeps; every field optional so edits can be partial."""

    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(default=None, min_length=1, max_length=300)
    systems: list[str] | None = None
    facts: str | None = None
    cause: str | None = None
    effects: str | None = None
    remedial_actions: str | None = None
    breach_types: list[BreachType] | None = None
    data_categories: list[str] | None = None
    special_categories: list[str] | None = None
    subject_categories: list[str] | None = None
    vulnerable_groups: str | None = None
    subjects_min: int | None = Field(default=None, ge=0)
    subjects_max: int | None = Field(default=None, ge=0)
    records_estimate: int | None = Field(default=None, ge=0)
    unintelligible: str | None = None
    cross_border: bool | None = None
    other_parties: str | None = None
    started_at: datetime | None = None
    discovered_at: datetime | None = None
    aware_at: datetime | None = None
    ended_at: datetime | None = None
    ongoing: bool | None = None
    subjects_informed: str | None = None
    delay_reason: str | None = None

    _tz = field_validator("started_at", "discovered_at", "aware_at", "ended_at")(_aware)


class AssessmentInput(pydantic.BaseModel):
    """The DPO's answers to the EDPB factors and the ENISA scores; see assessment.py."""

    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)

    # ENISA Data Processing Context: base score by data type, then adjusted for context.
    dpc_base: Literal[1, 2, 3, 4]
    dpc_adjustment: int = Field(default=0, ge=-3, le=3)
    dpc_adjustment_reason: str = ""
    ease_of_identification: Literal["negligible", "limited", "significant", "maximum"]
    loss_of_confidentiality: Literal[0, 1, 2] = 0  # 0 none, 1 known recipients, 2 unknown/wide
    loss_of_integrity: Literal[0, 1, 2] = 0  # 0 none, 1 recoverable, 2 not recoverable
    loss_of_availability: Literal[0, 1, 2] = 0  # 0 none, 1 temporary, 2 permanent
    malicious_intent: bool = False
    # EDPB Guidelines 9/2022 Section IV.B factors, in words.
    nature_sensitivity_volume: str = Field(min_length=1)
    severity_of_consequences: str = Field(min_length=1)
    special_characteristics_of_individuals: str = ""
    special_characteristics_of_controller: str = ""
    number_of_individuals: int | None = Field(default=None, ge=0)
    special_categories_involved: bool = False
    # Art. 34(3) exceptions.
    data_unintelligible: bool = False  # (a) e.g. state-of-the-art encryption, key safe
    risk_no_longer_likely: bool = False  # (b) subsequent measures
    disproportionate_effort: bool = False  # (c) public communication instead
    notes: str = ""


def parse(model: type[_Model], data: dict[str, Any]) -> _Model:
    """Validate `data`; the first problem becomes a ValidationError naming field and problem."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"]) or "input"
            problems.append((where, str(err["msg"]).removeprefix("Value error, ")))
        field = problems[0][0]
        raise ValidationError(field, "; ".join(f"{w}: {m}" for w, m in problems)) from None


# -- report forms as data (forms/*.yml; loaded by form_specs.py) -------------------------------

FieldKind = Literal["text", "bool", "list", "int", "datetime", "choice"]
_NAME = r"^[a-z][a-z0-9_]*$"


class FormLabel(pydantic.BaseModel):
    """A question's label in both languages of the dashboard and the PDF."""

    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)

    nl: pydantic.StrictStr = Field(min_length=1)
    en: pydantic.StrictStr = Field(min_length=1)


class RequiredWhen(pydantic.BaseModel):
    """A field that is required only when an earlier answer equals `equals`."""

    model_config = pydantic.ConfigDict(extra="forbid")

    field: pydantic.StrictStr = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    equals: pydantic.StrictBool | pydantic.StrictStr


class FormField(pydantic.BaseModel):
    """One question: `key` within its section, answer `kind`, and whether it is required."""

    model_config = pydantic.ConfigDict(extra="forbid")

    key: pydantic.StrictStr = Field(pattern=_NAME)
    label: FormLabel
    kind: FieldKind = "text"
    required: pydantic.StrictBool = True
    required_when: RequiredWhen | None = None
    choices: list[pydantic.StrictStr] = Field(default_factory=list)


class FormSection(pydantic.BaseModel):
    """A section of the form; answers are stored as `{section: {key: value}}`."""

    model_config = pydantic.ConfigDict(extra="forbid")

    name: pydantic.StrictStr = Field(pattern=_NAME)
    fields: list[FormField] = Field(min_length=1)


class FormFile(pydantic.BaseModel):
    """A report form file: its name (the file's stem) and its sections in form order."""

    model_config = pydantic.ConfigDict(extra="forbid")

    form: pydantic.StrictStr = Field(pattern=_NAME)
    sections: list[FormSection] = Field(min_length=1)
