"""The Art. 30 processing register: systems -> activities -> data and people, typical volumes.

The municipality keeps it in a YAML or CSV file; `load_file` replaces the stored register with
the file's content and reports file, line and field of every error. Service functions edit
single entries. `prefill` turns the sources an alert or incident names into likely data
categories and an estimate of people and records, so a new breach starts with numbers.

YAML shape::

    systems:
      - name: Zaaksysteem
        sources: [zaak-app01, zaken]        # host names / log sources of alerts
        activities:
          - name: Wmo-aanvragen
            data_categories: [naam, adres, BSN]
            special_categories: [gezondheid]
            subject_categories: [inwoners]
            typical_subjects: 12000
            typical_records: 40000
            uri: https://register.groningen.nl/verwerkingen/wmo-aanvragen/v3   # LDV, optional
            legal_basis: Wmo 2015, art. 2.3.2
            retention: 15 jaar
            retired: false            # an older version of an activity keeps its URI, retired
            requires_subject: true    # LDV records of this activity must name a data subject

CSV: one row per activity with the columns system, sources, activity, purpose,
data_categories, special_categories, subject_categories, typical_subjects, typical_records
(and optionally uri, legal_basis, retention, retired, requires_subject); lists are separated
by `;`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.content import load_yaml
from core.errors import NotFoundError, ValidationError
from playbooks.breach.models import ProcessingActivity, ProcessingSystem

_LIST_FIELDS = ("data_categories", "special_categories", "subject_categories")
_INT_FIELDS = ("typical_subjects", "typical_records")
_TEXT_FIELDS = ("legal_basis", "retention")
_BOOL_FIELDS = {"retired": False, "requires_subject": True}
_ACTIVITY_FIELDS = {
    "name", "purpose", "uri", *_TEXT_FIELDS, *_BOOL_FIELDS, *_LIST_FIELDS, *_INT_FIELDS,
}  # fmt: skip
_URI_RE = re.compile(r"(?:[a-z][a-z0-9+.-]*://[^\s/?#]+\S*|urn:[a-z0-9][a-z0-9-]{0,31}:\S+)", re.I)


class RegisterFileError(ValidationError):
    """A processing-register file is wrong at `path`, `line`, `field`."""

    def __init__(self, path: str, line: int | None, field: str, problem: str) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(field, f"{problem} ({where})")
        self.path = path
        self.line = line
        self.location = f"{where}: {field}: {problem}"


@dataclass
class ActivitySpec:
    """One activity as read from a file or given to `upsert_activity`."""

    name: str
    purpose: str = ""
    data_categories: list[str] = field(default_factory=list)
    special_categories: list[str] = field(default_factory=list)
    subject_categories: list[str] = field(default_factory=list)
    typical_subjects: int = 0
    typical_records: int = 0
    uri: str | None = None
    legal_basis: str = ""
    retention: str = ""
    retired: bool = False
    requires_subject: bool = True


@dataclass
class SystemSpec:
    """One system with its sources and activities."""

    name: str
    description: str = ""
    sources: list[str] = field(default_factory=list)
    activities: list[ActivitySpec] = field(default_factory=list)


def _activity(
    raw: Mapping[str, Any],
    where: str,
    path: str,
    line: int | None,
    field_lines: Mapping[str, int] | None = None,
) -> ActivitySpec:
    def at(key: str) -> int | None:
        # The bad field's own line when known (YAML), else the activity's.
        return (field_lines or {}).get(key, line)

    unknown = set(raw) - _ACTIVITY_FIELDS
    if unknown:
        bad = sorted(unknown)[0]
        raise RegisterFileError(path, at(bad), f"{where}.{bad}", "unknown field")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RegisterFileError(path, at("name"), f"{where}.name", "must be a non-empty text")
    spec = ActivitySpec(name=name.strip(), purpose=str(raw.get("purpose") or ""))
    for key in _LIST_FIELDS:
        value = raw.get(key) or []
        if isinstance(value, str):
            value = [v.strip() for v in value.split(";") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RegisterFileError(path, at(key), f"{where}.{key}", "must be a list of texts")
        setattr(spec, key, value)
    for key in _INT_FIELDS:
        value = raw.get(key) or 0
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise RegisterFileError(
                path, at(key), f"{where}.{key}", f"not a number: {value!r}"
            ) from None
        if number < 0:
            raise RegisterFileError(path, at(key), f"{where}.{key}", "must not be negative")
        setattr(spec, key, number)
    uri = raw.get("uri")
    if uri not in (None, ""):
        if not isinstance(uri, str) or len(uri) > 500 or not _URI_RE.fullmatch(uri.strip()):
            raise RegisterFileError(
                path, at("uri"), f"{where}.uri", "must be an absolute URI (https://... or urn:...)"
            )
        spec.uri = uri.strip()
    for key in _TEXT_FIELDS:
        setattr(spec, key, str(raw.get(key) or ""))
    for key, default in _BOOL_FIELDS.items():
        value = raw.get(key)
        if value in (None, ""):
            value = default
        elif isinstance(value, str) and value.strip().lower() in ("true", "false"):
            value = value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise RegisterFileError(path, at(key), f"{where}.{key}", "must be true or false")
        setattr(spec, key, value)
    return spec


def parse_yaml(text: str, path: str = "<yaml>") -> list[SystemSpec]:
    """Read the YAML form; errors name the file, the line and the field."""
    content = load_yaml(text, source=path)  # size, depth and alias limits; located problems
    problem = next((issue for issue in content.issues if issue.is_error), None)
    if problem is not None:
        raise RegisterFileError(path, problem.line, problem.field, problem.message)
    data = content.document.data if content.document is not None else None
    try:  # node positions; the same parser (libyaml) already accepted this input above
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise RegisterFileError(path, None, "file", str(exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("systems"), list):
        raise RegisterFileError(path, 1, "systems", "the file needs a list under `systems:`")
    lines, keys = _system_lines(root)
    systems = []
    for i, raw in enumerate(data["systems"]):
        line = lines.get((i, None))
        own = keys.get((i, None), {})
        if not isinstance(raw, dict) or not str(raw.get("name") or "").strip():
            at = own.get("name", line)
            raise RegisterFileError(path, at, f"systems[{i}].name", "must be a non-empty text")
        sources = raw.get("sources") or []
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            at = own.get("sources", line)
            raise RegisterFileError(path, at, f"systems[{i}].sources", "must be a list of texts")
        activities = raw.get("activities") or []
        if not isinstance(activities, list):
            at = own.get("activities", line)
            raise RegisterFileError(path, at, f"systems[{i}].activities", "must be a list")
        specs = []
        for j, act in enumerate(activities):
            where = f"systems[{i}].activities[{j}]"
            if not isinstance(act, dict):
                raise RegisterFileError(path, lines.get((i, j), line), where, "must be a mapping")
            specs.append(_activity(act, where, path, lines.get((i, j), line), keys.get((i, j))))
        systems.append(
            SystemSpec(
                name=str(raw["name"]).strip(),
                description=str(raw.get("description") or ""),
                sources=sources,
                activities=specs,
            )
        )
    return systems


_Where = tuple[int, int | None]


def _key_lines(node: yaml.Node) -> dict[str, int]:
    """Line of each key of a mapping node (where a bad value is reported)."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(key.value): key.start_mark.line + 1 for key, _ in node.value}


def _system_lines(
    root: yaml.Node | None,
) -> tuple[dict[_Where, int], dict[_Where, dict[str, int]]]:
    """Line numbers of each system and activity node, and of each of their fields."""
    found: dict[_Where, int] = {}
    keys: dict[_Where, dict[str, int]] = {}
    if not isinstance(root, yaml.MappingNode):
        return found, keys
    for key, value in root.value:
        if key.value != "systems" or not isinstance(value, yaml.SequenceNode):
            continue
        for i, system in enumerate(value.value):
            found[(i, None)] = system.start_mark.line + 1
            keys[(i, None)] = _key_lines(system)
            if not isinstance(system, yaml.MappingNode):
                continue
            for skey, svalue in system.value:
                if skey.value == "activities" and isinstance(svalue, yaml.SequenceNode):
                    for j, act in enumerate(svalue.value):
                        found[(i, j)] = act.start_mark.line + 1
                        keys[(i, j)] = _key_lines(act)
    return found, keys


def parse_csv(text: str, path: str = "<csv>") -> list[SystemSpec]:
    """Read the CSV form (one row per activity); errors name the file, the line and the column."""
    reader = csv.DictReader(io.StringIO(text))
    required = {"system", "activity"}
    missing = required - set(reader.fieldnames or ())
    if missing:
        raise RegisterFileError(path, 1, sorted(missing)[0], "column missing")
    systems: dict[str, SystemSpec] = {}
    for row in reader:
        line = reader.line_num
        name = (row.get("system") or "").strip()
        if not name:
            raise RegisterFileError(path, line, "system", "must not be empty")
        system = systems.setdefault(name, SystemSpec(name=name))
        for source in (row.get("sources") or "").split(";"):
            if source.strip() and source.strip() not in system.sources:
                system.sources.append(source.strip())
        raw = {k: row.get(k) or "" for k in _ACTIVITY_FIELDS if k != "name"}
        raw["name"] = (row.get("activity") or "").strip()
        system.activities.append(_activity(raw, "activity", path, line))
    return list(systems.values())


def parse_file(path: Path) -> list[SystemSpec]:
    """Read and check a register file (YAML, or CSV by its suffix) without storing it."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RegisterFileError(str(path), None, "file", "not UTF-8 text") from None
    except OSError as exc:
        raise RegisterFileError(str(path), None, "file", f"cannot read: {exc.strerror}") from None
    if path.suffix.lower() == ".csv":
        return parse_csv(text, str(path))
    return parse_yaml(text, str(path))


def load_file(*, db: Session, clock: Clock, actor: str, path: Path) -> int:
    """Replace the stored register with the file's content; returns the number of activities."""
    specs = parse_file(path)
    db.execute(delete(ProcessingActivity))
    db.execute(delete(ProcessingSystem))
    count = 0
    for spec in specs:
        system = ProcessingSystem(
            name=spec.name, description=spec.description, sources=spec.sources
        )
        db.add(system)
        db.flush()
        for act in spec.activities:
            db.add(_activity_row(system.id, act))
            count += 1
    audit.record(
        db=db, clock=clock, actor=actor, action="processing_register.loaded",
        object_type="processing_register", details={"file": str(path), "activities": count},
    )  # fmt: skip
    db.flush()
    return count


def _activity_row(system_id: int, spec: ActivitySpec) -> ProcessingActivity:
    return ProcessingActivity(
        system_id=system_id,
        name=spec.name,
        purpose=spec.purpose,
        data_categories=spec.data_categories,
        special_categories=spec.special_categories,
        subject_categories=spec.subject_categories,
        typical_subjects=spec.typical_subjects,
        typical_records=spec.typical_records,
        uri=spec.uri,
        legal_basis=spec.legal_basis,
        retention=spec.retention,
        retired=spec.retired,
        requires_subject=spec.requires_subject,
    )


def upsert_system(
    *,
    db: Session,
    clock: Clock,
    actor: str,
    name: str,
    sources: Iterable[str] = (),
    description: str = "",
) -> ProcessingSystem:
    """Add a system or change its sources and description."""
    if not name.strip():
        raise ValidationError("name", "must not be empty")
    system = db.scalar(select(ProcessingSystem).where(ProcessingSystem.name == name.strip()))
    if system is None:
        system = ProcessingSystem(name=name.strip(), sources=[], description="")
        db.add(system)
    system.sources = [s.strip() for s in sources if s.strip()]
    system.description = description
    db.flush()
    audit.record(
        db=db, clock=clock, actor=actor, action="processing_register.system_saved",
        object_type="processing_system", object_id=system.name, details={"sources": system.sources},
    )  # fmt: skip
    db.flush()
    return system


def upsert_activity(
    *, db: Session, clock: Clock, actor: str, system: str, activity: ActivitySpec
) -> ProcessingActivity:
    """Add or replace one activity of a system."""
    spec = _activity(vars(activity), "activity", "<input>", None)
    owner = db.scalar(select(ProcessingSystem).where(ProcessingSystem.name == system))
    if owner is None:
        raise NotFoundError(f"system {system!r} is not in the processing register")
    row = db.scalar(
        select(ProcessingActivity).where(
            ProcessingActivity.system_id == owner.id, ProcessingActivity.name == spec.name
        )
    )
    if row is not None:
        db.delete(row)
        db.flush()
    row = _activity_row(owner.id, spec)
    db.add(row)
    db.flush()
    audit.record(
        db=db, clock=clock, actor=actor, action="processing_register.activity_saved",
        object_type="processing_system", object_id=owner.name, details={"activity": spec.name},
    )  # fmt: skip
    db.flush()
    return row


def systems(*, db: Session) -> list[tuple[ProcessingSystem, list[ProcessingActivity]]]:
    """The whole register, systems by name with their activities."""
    result = []
    for system in db.scalars(select(ProcessingSystem).order_by(ProcessingSystem.name)):
        acts = db.scalars(
            select(ProcessingActivity)
            .where(ProcessingActivity.system_id == system.id)
            .order_by(ProcessingActivity.name)
        )
        result.append((system, list(acts)))
    return result


def prefill(*, db: Session, sources: Iterable[str]) -> dict[str, Any]:
    """Likely data, people and numbers for a breach on `sources` (system names or sources).

    The estimate adds up the typical volumes of every matched activity: an upper bound that
    the DPO narrows down; approximations are fine for a first notification (EDPB 9/2022).
    """
    wanted = {s.strip().lower() for s in sources if s and s.strip()}
    if not wanted:
        return {}
    matched: list[tuple[ProcessingSystem, list[ProcessingActivity]]] = [
        (system, acts)
        for system, acts in systems(db=db)
        if system.name.lower() in wanted or wanted & {s.lower() for s in system.sources}
    ]
    if not matched:
        return {}
    data: list[str] = []
    special: list[str] = []
    subjects: list[str] = []
    people = records = 0
    for _system, acts in matched:
        for act in acts:
            data += [c for c in act.data_categories if c not in data]
            special += [c for c in act.special_categories if c not in special]
            subjects += [c for c in act.subject_categories if c not in subjects]
            people += act.typical_subjects
            records += act.typical_records
    return {
        "systems": [system.name for system, _ in matched],
        "data_categories": data,
        "special_categories": special,
        "subject_categories": subjects,
        "subjects_max": people,
        "records_estimate": records,
    }


@dataclass(frozen=True)
class RegisteredActivity:
    """A register entry as LDV records reach it: by the URI they carry."""

    uri: str
    system: str
    name: str
    purpose: str
    legal_basis: str
    retention: str
    data_categories: list[str]
    special_categories: list[str]
    retired: bool
    requires_subject: bool


def activities_by_uri(*, db: Session) -> dict[str, RegisteredActivity]:
    """Every register activity that has an LDV URI, keyed by it (retired versions included)."""
    rows = db.execute(
        select(ProcessingActivity, ProcessingSystem.name)
        .join(ProcessingSystem, ProcessingSystem.id == ProcessingActivity.system_id)
        .where(ProcessingActivity.uri.is_not(None))
    )
    return {
        act.uri: RegisteredActivity(
            uri=act.uri,
            system=system,
            name=act.name,
            purpose=act.purpose,
            legal_basis=act.legal_basis,
            retention=act.retention,
            data_categories=list(act.data_categories),
            special_categories=list(act.special_categories),
            retired=act.retired,
            requires_subject=act.requires_subject,
        )
        for act, system in rows
        if act.uri
    }
