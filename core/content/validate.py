"""Authored YAML -> pydantic model -> located issues: the one validation path for content.

Pydantic's error locations name model fields (with aliases, union tags and validator names
mixed in); they are walked through the data so each issue names the path the author wrote and
the line it is on. Cross-field rules are small validators, one check each, in the spirit of
pySigma's ``sigma/validators``: each yields ``(path, message)`` pairs for one model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import pydantic

from core.content.issues import DataPath, Issue, Severity, field_name
from core.content.safe_yaml import Document

Model = TypeVar("Model", bound=pydantic.BaseModel)


class Validator(Generic[Model]):
    """One cross-field rule over one kind of content (pySigma's ``sigma/validators`` idea).

    ``check`` yields ``(data path, message)`` for each finding; ``validate_model`` turns them
    into located issues of the validator's ``severity``.
    """

    name: ClassVar[str] = "validator"
    severity: ClassVar[Severity] = "error"

    def check(self, item: Model) -> Iterable[tuple[DataPath, str]]:
        raise NotImplementedError


def _has(container: Any, part: str | int) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def resolve_location(data: Any, loc: Sequence[str | int]) -> tuple[DataPath, bool]:
    """The data path a pydantic location points at, and whether it exists in the data.

    Parts that are not keys of the data (discriminator tags, ``function-after[...]``, type
    names) are skipped; a last part that is missing is kept: it is the missing field.
    """
    path: list[str | int] = []
    current = data
    for index, part in enumerate(loc):
        if _has(current, part):
            current = current[part]
            path.append(part)
        elif index == len(loc) - 1:
            path.append(part)
            return tuple(path), False
    return tuple(path), True


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "union_tag_invalid":
        return f"unknown type; {message}"
    return message


def pydantic_issues(
    exc: pydantic.ValidationError, document: Document, *, source: str, at: DataPath = ()
) -> list[Issue]:
    """One issue per pydantic error, at the field path and line the author wrote.

    ``at`` is where the validated value sits in the document (an item of a top-level list).
    """
    data: Any = document.data
    for part in at:
        data = data[part]
    issues: list[Issue] = []
    errors = exc.errors()
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "too_short" and any(
            len(other["loc"]) > len(loc) and tuple(other["loc"][: len(loc)]) == loc
            for other in errors
        ):
            continue  # pydantic counts only valid items: the real error is the item's own
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, "type")  # the discriminator field is what is wrong
        path, exists = resolve_location(data, loc)
        full = (*at, *path)
        line = document.line_of(full if exists else full[:-1])
        issues.append(Issue(source, line, field_name(full), _message(error)))
    return issues


def validate_model(
    model: type[Model],
    document: Document,
    *,
    source: str,
    validators: Sequence[Validator[Model]] = (),
    at: DataPath = (),
) -> tuple[Model | None, list[Issue]]:
    """Validate one document (or the value at ``at``) as ``model`` and run its validators.

    Returns the model only when no error was found, and every issue either way.
    """
    data: Any = document.data
    for part in at:
        data = data[part]
    if not isinstance(data, dict):
        where = document.line_of(at)
        return None, [Issue(source, where, field_name(at), "must be a mapping")]
    try:
        value = model.model_validate(data)
    except pydantic.ValidationError as exc:
        return None, pydantic_issues(exc, document, source=source, at=at)
    except (ValueError, TypeError, RecursionError) as exc:  # a validator that raised wrongly
        return None, [Issue(source, document.line_of(at), field_name(at), str(exc))]
    issues = [
        Issue(
            source,
            document.line_of((*at, *path)),
            field_name((*at, *path)),
            message,
            validator.severity,
        )
        for validator in validators
        for path, message in validator.check(value)
    ]
    return (None if any(i.is_error for i in issues) else value), issues
