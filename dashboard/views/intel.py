"""Threat intel (issue 24): the /intel page (indicators with filters, feeds with their last
refresh and counts, an import form for admins) and its JSON API. Thin: parse, call intel's
service or flow, render. Indicators are attackers' values, not residents' data, so reading
them is not a read of personal data."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from core.accounts.models import Role
from core.errors import ValidationError
from dashboard.deps import (
    AppSettings,
    ClockDep,
    DbSession,
    Principal,
    RequireRole,
    SessionFactory,
    Templates,
    WriteDb,
)
from intel import service

router = APIRouter(tags=["intel"])
Reader = Annotated[Principal, Depends(RequireRole(Role.ANALYST, Role.ADMIN, scope="read:intel"))]
Admin = Annotated[Principal, Depends(RequireRole(Role.ADMIN))]
# Sharing an incident's observables with the sector CERT: the people who work cases.
Sharer = Annotated[Principal, Depends(RequireRole(Role.ANALYST, Role.INCIDENT_MANAGER))]
MAX_UPLOAD = 50 * 1024 * 1024
PAGE = 100


class IndicatorOut(BaseModel):
    id: int
    type: str
    value: str
    source: str
    confidence: int
    score: float
    tlp: str
    first_seen: str
    last_seen: str
    valid_until: str | None
    expired_at: str | None
    techniques: list[str]
    group_key: str | None
    active: bool


class IndicatorPage(BaseModel):
    total: int
    indicators: list[IndicatorOut]


class SourceOut(BaseModel):
    name: str
    location: str
    format: str
    last_refresh_at: str | None
    last_counts: dict[str, int]
    last_problems: list[str]
    total: int
    unexpired: int


class ImportIn(BaseModel):
    location: str = Field(min_length=1, max_length=2000)
    format: str = Field(max_length=20)
    source: str = Field(min_length=1, max_length=100)
    confidence: int | None = Field(default=None, ge=0, le=100)
    tlp: str | None = Field(default=None, max_length=20)


class ImportOut(BaseModel):
    source: str
    counts: dict[str, int]
    problems: list[str]
    hunt_events: int | None
    hunt_alerts: int


def _indicator(row: Any) -> IndicatorOut:
    return IndicatorOut(
        id=row.id,
        type=row.type,
        value=row.value,
        source=row.source,
        confidence=row.confidence,
        score=row.score,
        tlp=row.tlp,
        first_seen=row.first_seen.isoformat(),
        last_seen=row.last_seen.isoformat(),
        valid_until=row.valid_until.isoformat() if row.valid_until else None,
        expired_at=row.expired_at.isoformat() if row.expired_at else None,
        techniques=list(row.techniques),
        group_key=row.group_key,
        active=row.active,
    )


def _source(row: Any) -> SourceOut:
    return SourceOut(
        name=row.name,
        location=row.location,
        format=row.format,
        last_refresh_at=row.last_refresh_at.isoformat() if row.last_refresh_at else None,
        last_counts=dict(row.last_counts),
        last_problems=list(row.last_problems),
        total=row.total,
        unexpired=row.unexpired,
    )


def _import_out(outcome: service.ImportOutcome) -> ImportOut:
    return ImportOut(
        source=outcome.report.source,
        counts=outcome.report.counts(),
        problems=[str(issue) for issue in outcome.report.problems],
        hunt_events=outcome.hunt.events if outcome.hunt else None,
        hunt_alerts=outcome.hunt.alerts if outcome.hunt else 0,
    )


def _check_url(location: str) -> None:
    """Pages and the API import uploads and URLs only: a path on the server is read by the
    command line and the configured feeds, never named by a web request."""
    if not service.is_url(location):
        raise ValidationError(
            "location", "choose a file or give an http(s):// URL (server paths: use the CLI)"
        )


def _listing(db: Any, clock: Any, settings: Any, filters: dict[str, Any], offset: int) -> Any:
    return service.list_indicators(
        db=db,
        clock=clock,
        settings=settings,
        type=filters.get("type") or None,
        source=filters.get("source") or None,
        value=filters.get("value") or None,
        active={"active": True, "expired": False}.get(filters.get("state") or ""),
        limit=PAGE,
        offset=offset,
    )


def _page(
    request: Request,
    db: Any,
    clock: Any,
    settings: Any,
    templates: Any,
    *,
    filters: dict[str, Any],
    offset: int = 0,
    result: ImportOut | None = None,
    form: dict[str, str] | None = None,
    error: ValidationError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        rows, total = _listing(db, clock, settings, filters, offset)
    except ValidationError as exc:
        rows, total, error, status_code = [], 0, exc, 400
    context = {
        "indicators": [_indicator(row) for row in rows],
        "total": total,
        "offset": offset,
        "page": PAGE,
        "sources": [_source(row) for row in service.overview(db=db, settings=settings)],
        "filters": filters,
        "types": service.TYPES,
        "formats": service.FORMATS,
        "result": result,
        "form": form or {},
        "error": None if error is None else {"field": error.field, "message": str(error)},
    }
    return templates.TemplateResponse(request, "intel.html", context, status_code=status_code)


@router.get("/intel", response_class=HTMLResponse, summary="Threat intel (page)")
def intel_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Reader,
    type: Annotated[str, Query(max_length=20)] = "",
    source: Annotated[str, Query(max_length=100)] = "",
    value: Annotated[str, Query(max_length=200)] = "",
    state: Annotated[str, Query(max_length=10)] = "active",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    filters = {"type": type, "source": source, "value": value, "state": state}
    return _page(request, db, clock, settings, templates, filters=filters, offset=offset)


@router.post("/intel/import", response_class=HTMLResponse, summary="Import a feed (form)")
def import_form(
    request: Request,
    db: DbSession,
    sessions: SessionFactory,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Admin,
    file: UploadFile | None = None,
    location: Annotated[str, Form(max_length=2000)] = "",
    format: Annotated[str, Form(max_length=20)] = "",
    source: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    """Import an uploaded file or a path/URL; the page then shows the counts and problems."""
    form = {"location": location, "format": format, "source": source}
    filters = {"state": "active"}
    data = file.file.read(MAX_UPLOAD + 1) if file is not None and file.filename else None
    try:
        if data is not None and len(data) > MAX_UPLOAD:
            raise ValidationError("file", f"larger than {MAX_UPLOAD // (1024 * 1024)} MB")
        if data is None:
            _check_url(location.strip())
        outcome = service.import_and_hunt(
            settings=settings,
            clock=clock,
            sessions=sessions,
            location=(file.filename if data is not None and file else location.strip()) or "",
            fmt=format,
            source=source.strip(),
            actor=user.username,
            data=data,
        )
    except ValidationError as exc:
        return _page(
            request, db, clock, settings, templates, filters=filters, form=form, error=exc,
            status_code=400,
        )  # fmt: skip
    db.rollback()  # the read unit began before the import committed: read the new state
    return _page(
        request, db, clock, settings, templates, filters=filters, result=_import_out(outcome)
    )


@router.get("/api/intel/indicators", response_model=IndicatorPage, summary="Indicators")
def indicators_api(
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    user: Reader,
    type: Annotated[str, Query(max_length=20)] = "",
    source: Annotated[str, Query(max_length=100)] = "",
    value: Annotated[str, Query(max_length=200)] = "",
    state: Annotated[str, Query(max_length=10)] = "",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> IndicatorPage:
    """Indicators newest first; `state` active or expired; 100 per page."""
    filters = {"type": type, "source": source, "value": value, "state": state}
    rows, total = _listing(db, clock, settings, filters, offset)
    return IndicatorPage(total=total, indicators=[_indicator(row) for row in rows])


@router.get("/api/intel/sources", response_model=list[SourceOut], summary="Feeds")
def sources_api(db: DbSession, settings: AppSettings, user: Reader) -> list[SourceOut]:
    """Each feed with its last refresh, the counts of that import and its problems."""
    return [_source(row) for row in service.overview(db=db, settings=settings)]


@router.post("/api/intel/import", response_model=ImportOut, summary="Import a feed")
def import_api(
    body: ImportIn,
    sessions: SessionFactory,
    clock: ClockDep,
    settings: AppSettings,
    user: Admin,
) -> ImportOut:
    """Import a feed from an http(s) URL, then retro-hunt what it added."""
    _check_url(body.location)
    outcome = service.import_and_hunt(
        settings=settings,
        clock=clock,
        sessions=sessions,
        location=body.location,
        fmt=body.format,
        source=body.source,
        confidence=body.confidence,
        tlp=body.tlp,
        actor=user.username,
    )
    return _import_out(outcome)


@router.post("/api/intel/export/{incident_id}", summary="Share an incident's observables")
def export_api(
    incident_id: str,
    db: WriteDb,
    clock: ClockDep,
    settings: AppSettings,
    user: Sharer,
    format: Annotated[str, Query(max_length=10)] = "stix",
    tlp: Annotated[str, Query(max_length=20)] = "amber",
) -> Response:
    """The incident's shareable observables as a STIX 2.1 bundle or a MISP event: 400 for an
    exercise incident; residents' data never included (what was withheld is in the headers)."""
    if not incident_id.isdigit() or len(incident_id) > 12:
        raise ValidationError("incident_id", "must be an incident number")
    export = service.export_incident(
        db=db,
        clock=clock,
        incident_id=int(incident_id),
        fmt=format,
        tlp=tlp,
        organisation=settings.organisation_name,
        actor=user.username,
    )
    return Response(
        export.content,
        media_type=export.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "X-Dijkwacht-Shared": str(export.shared),
            "X-Dijkwacht-Withheld": str(sum(export.withheld.values())),
        },
    )
