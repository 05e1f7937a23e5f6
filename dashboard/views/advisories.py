"""The software inventory, expected log sources and CSAF advisories: pages and JSON API.

Analysts, incident managers and admins read; admins import and edit the lists; incident
managers and admins accept a risk. Every change is audited by the domain services; the views
only parse, call one service and show the result (with located problems for a bad file).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from advisories import service as advisories
from collectors import service as collectors
from core.accounts.models import Role
from core.clock import Clock
from core.errors import ValidationError
from dashboard.deps import (
    AppSettings,
    ClockDep,
    DbSession,
    Principal,
    RequireRole,
    Templates,
    WriteDb,
)

router = APIRouter(tags=["advisories"])
READERS = (Role.ANALYST, Role.INCIDENT_MANAGER, Role.ADMIN)
Reader = Annotated[Principal, Depends(RequireRole(*READERS, scope="read:alerts"))]
Admin = Annotated[Principal, Depends(RequireRole(Role.ADMIN, scope="admin"))]
Accepter = Annotated[
    Principal, Depends(RequireRole(Role.INCIDENT_MANAGER, Role.ADMIN, scope="write:alerts"))
]
MAX_UPLOAD = 20 * 1024 * 1024
Text = Annotated[str, Form(max_length=2000)]


class ItemOut(BaseModel):
    """One inventory item and how many advisories are open on it."""

    id: int
    vendor: str
    product: str
    version: str
    cpe: str | None
    purl: str | None
    owner: str
    exposure: str
    log_source: str | None
    open_advisories: int


class ExpectedSourceOut(BaseModel):
    name: str
    max_silence_minutes: int
    expected_per_hour: int | None
    origin: str
    note: str | None
    alerted: bool


class OpenAdvisoryOut(BaseModel):
    """An advisory on an item: status, due date and any accepted risk."""

    advisory_id: int
    tracking_id: str
    title: str
    severity: str
    cves: list[str]
    incident_id: int | None
    item_id: int
    item: str
    owner: str
    exposure: str
    status: str
    due_at: str
    overdue: bool
    accepted: bool
    accepted_by: str | None
    accepted_reason: str | None
    accepted_until: str | None


class AcceptIn(BaseModel):
    reason: str = Field(max_length=2000)
    until: datetime


class ExpectIn(BaseModel):
    name: str = Field(max_length=64)
    max_silence_minutes: int
    expected_per_hour: int | None = None
    note: str | None = Field(default=None, max_length=2000)


def _items(db: Session, clock: Clock) -> list[ItemOut]:
    counts: dict[int, int] = {}
    for row in advisories.overview(db=db, clock=clock):
        counts[row.item.id] = counts.get(row.item.id, 0) + 1
    return [
        ItemOut(
            id=i.id,
            vendor=i.vendor,
            product=i.product,
            version=i.version,
            cpe=i.cpe,
            purl=i.purl,
            owner=i.owner,
            exposure=i.exposure,
            log_source=i.log_source,
            open_advisories=counts.get(i.id, 0),
        )
        for i in advisories.list_items(db=db)
    ]


def _sources(db: Session) -> list[ExpectedSourceOut]:
    return [
        ExpectedSourceOut(
            name=r.name,
            max_silence_minutes=r.max_silence_minutes,
            expected_per_hour=r.expected_per_hour,
            origin=r.origin,
            note=r.note,
            alerted=r.alerted_at is not None,
        )
        for r in collectors.list_expected(db=db)
    ]


def _open(db: Session, clock: Clock, *, include_closed: bool) -> list[OpenAdvisoryOut]:
    return [
        OpenAdvisoryOut(
            advisory_id=r.advisory.id,
            tracking_id=r.advisory.tracking_id,
            title=r.advisory.title,
            severity=r.advisory.severity,
            cves=r.cves,
            incident_id=r.advisory.incident_id,
            item_id=r.item.id,
            item=f"{r.item.vendor} {r.item.product} {r.item.version}",
            owner=r.item.owner,
            exposure=r.item.exposure,
            status=r.status,
            due_at=r.due_at.isoformat(),
            overdue=r.overdue,
            accepted=r.accepted,
            accepted_by=r.accepted_by,
            accepted_reason=r.accepted_reason,
            accepted_until=r.accepted_until.isoformat() if r.accepted_until else None,
        )
        for r in advisories.overview(db=db, clock=clock, include_closed=include_closed)
    ]


def _error(exc: Exception | None) -> dict[str, str] | None:
    if exc is None:
        return None
    return {"field": getattr(exc, "field", "form"), "message": str(exc)}


def _inventory_page(
    request: Request, db: Session, clock: Clock, templates: Any, *,
    issues: list[str] | None = None, summary: dict[str, Any] | None = None,
    error: Exception | None = None, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    context = {
        "items": _items(db, clock),
        "sources": _sources(db),
        "issues": issues or [],
        "summary": summary,
        "error": _error(error),
    }
    return templates.TemplateResponse(request, "inventory.html", context, status_code=status_code)


def _advisories_page(
    request: Request, db: Session, clock: Clock, templates: Any, *,
    issues: list[str] | None = None, summary: dict[str, Any] | None = None,
    error: Exception | None = None, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    context = {
        "rows": _open(db, clock, include_closed=True),
        "advisories": advisories.list_advisories(db=db),
        "issues": issues or [],
        "summary": summary,
        "error": _error(error),
    }
    return templates.TemplateResponse(request, "advisories.html", context, status_code=status_code)


def _upload(file: UploadFile) -> str:
    content = file.file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise ValidationError("file", f"larger than {MAX_UPLOAD} bytes")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("file", "not UTF-8 text") from None


@router.get("/inventory", response_class=HTMLResponse, summary="Software inventory (page)")
def inventory_page(
    request: Request, db: DbSession, clock: ClockDep, templates: Templates, user: Reader
) -> HTMLResponse:
    return _inventory_page(request, db, clock, templates)


@router.post("/inventory/import", summary="Import a CSV or CycloneDX inventory (form)")
def inventory_import(
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Admin,
    file: UploadFile,
    kind: Annotated[str, Form(max_length=20)] = "csv",
    owner: Annotated[str, Form(max_length=200)] = "",
    exposure: Annotated[str, Form(max_length=20)] = "internal",
) -> Response:
    """Rows with problems are listed with their line or component; the rest is stored."""
    try:
        text = _upload(file)
    except ValidationError as exc:
        return _inventory_page(request, db, clock, templates, error=exc, status_code=400)
    report = advisories.import_inventory(
        db=db, clock=clock, text=text, source=file.filename or "upload", actor=user.username,
        kind=kind, owner=owner.strip() or None, exposure=exposure,
        silence_minutes=settings.source_silent_minutes,
    )  # fmt: skip
    # The page words the numbers through the catalogue (inventory.html).
    summary = {"added": report.added, "updated": report.updated, "refused": report.errors}
    return _inventory_page(
        request, db, clock, templates, issues=[str(i) for i in report.issues], summary=summary,
        status_code=400 if report.errors else 200,
    )  # fmt: skip


@router.post("/inventory/sources", summary="Expect a log source (form)")
def expect_form(
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Admin,
    name: Annotated[str, Form(max_length=64)] = "",
    max_silence_minutes: Annotated[str, Form(max_length=10)] = "",
    expected_per_hour: Annotated[str, Form(max_length=10)] = "",
    note: Text = "",
) -> Response:
    try:
        collectors.expect_source(
            db=db, clock=clock, name=name,
            max_silence_minutes=_number(max_silence_minutes, "max_silence_minutes"),
            expected_per_hour=_number(expected_per_hour, "expected_per_hour")
            if expected_per_hour.strip() else None,
            note=note, actor=user.username,
        )  # fmt: skip
    except ValidationError as exc:
        return _inventory_page(request, db, clock, templates, error=exc, status_code=400)
    return RedirectResponse("/inventory#expected-sources", status_code=303)


@router.post("/inventory/sources/forget", summary="Stop expecting a log source (form)")
def forget_form(
    db: WriteDb, clock: ClockDep, user: Admin, name: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    collectors.forget_source(db=db, clock=clock, name=name, actor=user.username)
    return RedirectResponse("/inventory#expected-sources", status_code=303)


def _number(value: str, field: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ValidationError(field, f"not a whole number: {value!r}") from None


@router.get("/advisories", response_class=HTMLResponse, summary="Advisories per item (page)")
def advisories_page(
    request: Request, db: DbSession, clock: ClockDep, templates: Templates, user: Reader
) -> HTMLResponse:
    return _advisories_page(request, db, clock, templates)


@router.post("/advisories/import", summary="Import a CSAF 2.0 advisory file (form)")
def advisories_import(
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Admin,
    file: UploadFile,
) -> Response:
    """One CSAF document; an invalid one is refused with its problems located."""
    try:
        text = _upload(file)
    except ValidationError as exc:
        return _advisories_page(request, db, clock, templates, error=exc, status_code=400)
    documents, issues = advisories.parse_upload(text, source=file.filename or "upload")
    report = advisories.import_documents(
        db=db, clock=clock, documents=documents, actor=user.username
    )
    issues += report.issues
    opened = report.incidents_opened
    # The page words the numbers through the catalogue (advisories.html).
    summary = {"imported": report.imported, "opened": ", ".join(f"#{i}" for i in opened)}
    return _advisories_page(
        request, db, clock, templates, issues=[str(i) for i in issues], summary=summary,
        status_code=400 if issues else 200,
    )  # fmt: skip


@router.post("/advisories/{advisory_id}/items/{item_id}/accept", summary="Accept a risk (form)")
def accept_form(
    advisory_id: int,
    item_id: int,
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Accepter,
    reason: Text = "",
    until: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    try:
        try:
            moment = datetime.fromisoformat(until.strip())
        except ValueError:
            raise ValidationError("until", f"not a date and time: {until!r}") from None
        advisories.accept_risk(
            db=db, clock=clock, advisory_id=advisory_id, item_id=item_id, reason=reason,
            until=moment if moment.tzinfo else moment.replace(tzinfo=UTC), actor=user.username,
        )  # fmt: skip
    except ValidationError as exc:
        return _advisories_page(request, db, clock, templates, error=exc, status_code=400)
    return RedirectResponse("/advisories", status_code=303)


@router.get("/api/inventory", response_model=list[ItemOut], summary="Software inventory")
def inventory_api(db: DbSession, clock: ClockDep, user: Reader) -> list[ItemOut]:
    return _items(db, clock)


@router.get(
    "/api/expected-sources", response_model=list[ExpectedSourceOut], summary="Expected sources"
)
def sources_api(db: DbSession, user: Reader) -> list[ExpectedSourceOut]:
    return _sources(db)


@router.post(
    "/api/expected-sources", response_model=ExpectedSourceOut, summary="Expect a log source"
)
def expect_api(body: ExpectIn, db: WriteDb, clock: ClockDep, user: Admin) -> ExpectedSourceOut:
    row = collectors.expect_source(
        db=db, clock=clock, name=body.name, max_silence_minutes=body.max_silence_minutes,
        expected_per_hour=body.expected_per_hour, note=body.note, actor=user.username,
    )  # fmt: skip
    return ExpectedSourceOut(
        name=row.name, max_silence_minutes=row.max_silence_minutes,
        expected_per_hour=row.expected_per_hour, origin=row.origin, note=row.note,
        alerted=row.alerted_at is not None,
    )  # fmt: skip


@router.get("/api/advisories", response_model=list[OpenAdvisoryOut], summary="Advisories per item")
def advisories_api(
    db: DbSession, clock: ClockDep, user: Reader, all: bool = False
) -> list[OpenAdvisoryOut]:
    """Open advisories per item (`all=true`: also fixed and accepted ones)."""
    return _open(db, clock, include_closed=all)


@router.post(
    "/api/advisories/{advisory_id}/items/{item_id}/accept-risk",
    response_model=OpenAdvisoryOut,
    summary="Accept the risk of an advisory on an item",
)
def accept_api(
    advisory_id: int, item_id: int, body: AcceptIn, db: WriteDb, clock: ClockDep, user: Accepter
) -> OpenAdvisoryOut:
    advisories.accept_risk(
        db=db, clock=clock, advisory_id=advisory_id, item_id=item_id, reason=body.reason,
        until=body.until, actor=user.username,
    )  # fmt: skip
    [row] = [
        r for r in _open(db, clock, include_closed=True)
        if r.advisory_id == advisory_id and r.item_id == item_id
    ]  # fmt: skip
    return row
