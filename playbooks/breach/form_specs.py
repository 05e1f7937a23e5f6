"""The report forms as data: `forms/<name>.yml`, checked by the content loader, loaded once.

The AP notification (`ap_notification.yml`, used by both `ap_initial` and `ap_followup`
reports) and the three NIS2/Cbw stages (`nis2_early_warning.yml`, `nis2_notification.yml`,
`nis2_final.yml`) list their questions in form order; the drafts, the dashboard pages, the API
and the PDF all read these specs. A broken form file is a located `Issue` from
`check_form_file` (and `dijkwacht content check`); `form` refuses to serve one with
`FormError` rather than draft reports with a half-read form. Each form is read on first use
and cached for the life of the process, never at import time.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from pathlib import Path

from core.content import DataPath, Issue, Validator, has_errors, load_yaml, validate_model
from playbooks.breach.reports import FieldSpec
from playbooks.breach.schemas import FormFile

FORMS_DIR = Path(__file__).parent / "forms"
AP_FORM = "ap_notification"
NIS2_FORMS: tuple[str, ...] = ("nis2_early_warning", "nis2_notification", "nis2_final")


class FormError(Exception):
    """A shipped report form is missing or invalid; `issues` lists each problem."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = list(issues)


class UniqueFields(Validator[FormFile]):
    """Each `section.key` occurs once: answers are stored and edited by that path."""

    name = "unique-fields"

    def check(self, item: FormFile) -> Iterable[tuple[DataPath, str]]:
        seen: set[str] = set()
        for s, section in enumerate(item.sections):
            for f, field in enumerate(section.fields):
                path = f"{section.name}.{field.key}"
                if path in seen:
                    yield ("sections", s, "fields", f, "key"), f"field {path!r} occurs twice"
                seen.add(path)


class ChoicesFitKind(Validator[FormFile]):
    """A `choice` field lists its choices, and only a `choice` field has any."""

    name = "choices-fit-kind"

    def check(self, item: FormFile) -> Iterable[tuple[DataPath, str]]:
        for s, section in enumerate(item.sections):
            for f, field in enumerate(section.fields):
                where: DataPath = ("sections", s, "fields", f)
                if field.kind == "choice" and not field.choices:
                    yield (*where, "kind"), "a choice field needs choices"
                elif field.kind != "choice" and field.choices:
                    yield (
                        (*where, "choices"),
                        f"only a choice field has choices (kind is {field.kind})",
                    )


class ConditionsLookBack(Validator[FormFile]):
    """`required_when` names an earlier field and a value that field can hold."""

    name = "conditions-look-back"

    def check(self, item: FormFile) -> Iterable[tuple[DataPath, str]]:
        earlier: dict[str, tuple[str, list[str]]] = {}
        for s, section in enumerate(item.sections):
            for f, field in enumerate(section.fields):
                where: DataPath = ("sections", s, "fields", f, "required_when")
                condition = field.required_when
                if condition is not None:
                    if "required" in field.model_fields_set:
                        yield (*where[:-1], "required"), "give required or required_when, not both"
                    target = earlier.get(condition.field)
                    if target is None:
                        yield (*where, "field"), f"{condition.field!r} is not an earlier field"
                    elif not _fits(condition.equals, *target):
                        yield (
                            (*where, "equals"),
                            (
                                f"{condition.equals!r} is not a possible answer of "
                                f"{condition.field} ({target[0]})"
                            ),
                        )
                earlier[f"{section.name}.{field.key}"] = (field.kind, field.choices)


def _fits(value: str | bool, kind: str, choices: list[str]) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "choice":
        return value in choices
    return isinstance(value, str) and kind == "text"


VALIDATORS: tuple[Validator[FormFile], ...] = (
    UniqueFields(),
    ChoicesFitKind(),
    ConditionsLookBack(),
)


def _specs(form: FormFile) -> tuple[FieldSpec, ...]:
    return tuple(
        FieldSpec(
            section=section.name,
            key=field.key,
            label_nl=field.label.nl,
            label_en=field.label.en,
            kind=field.kind,
            required=field.required,
            choices=tuple(field.choices),
            required_when=(
                None
                if field.required_when is None
                else (field.required_when.field, field.required_when.equals)
            ),
        )
        for section in form.sections
        for field in section.fields
    )


def load_form(
    path: Path, *, source: str | None = None
) -> tuple[tuple[FieldSpec, ...] | None, list[Issue]]:
    """The specs of one form file, or None, and every located issue; never raises."""
    source = source or str(path)
    content = load_yaml(path, source=source)
    issues = list(content.issues)
    document = content.document
    if document is None:
        if not issues:
            issues.append(Issue(source, 1, "(document)", "the form file is empty"))
        return None, issues
    form, found = validate_model(FormFile, document, source=source, validators=VALIDATORS)
    issues += found
    if form is not None and form.form != path.stem:
        line = document.line_of(("form",))
        issues.append(Issue(source, line, "form", f"must be the file's name {path.stem!r}"))
    if form is None or has_errors(issues):
        return None, issues
    return _specs(form), issues


def check_form_file(path: Path) -> list[Issue]:
    """Every problem of one form file (for `dijkwacht content check`)."""
    return load_form(path)[1]


@functools.cache
def form(name: str) -> tuple[FieldSpec, ...]:
    """The questions of a shipped form in form order, read once per process; FormError if the
    file is missing or invalid."""
    if name not in (AP_FORM, *NIS2_FORMS):
        raise FormError([Issue(name, None, "(form)", "no such report form")])
    path = FORMS_DIR / f"{name}.yml"
    specs, issues = load_form(path, source=f"playbooks/breach/forms/{path.name}")
    if specs is None:
        raise FormError(issues)
    return specs


def form_of(report_kind: str) -> str:
    """The form a report kind is drafted on: `ap_initial` and `ap_followup` share the AP form."""
    return AP_FORM if report_kind.startswith("ap_") else report_kind
