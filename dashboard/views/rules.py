"""Detection rules and ATT&CK coverage, as pages and as JSON.

Who may do what (also in docs/dashboard.md and the authorisation matrix): analysts, incident
managers and admins read rules and the coverage matrix and test a rule on pasted events (a
test stores nothing); switching a rule on or off changes what the whole platform detects, so
only incident managers and admins may do it, and every switch is audited by detection.
Rules hold no personal data; pasted test events are only echoed back to the person who pasted
them and never stored, so these reads are not audited as personal-data reads.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from core.accounts.models import Role
from core.errors import ConflictError
from dashboard.deps import (
    AppSettings,
    ClockDep,
    DbSession,
    Principal,
    RequireRole,
    Templates,
    WriteDb,
)
from dashboard.services.coverage import Coverage, coverage, load_catalog
from dashboard.services.rules import (
    MAX_TEST_CHARS,
    RuleRow,
    TestOutcome,
    rule_detail,
    rule_rows,
    switch_rule,
    test_rule,
)
from dijkwacht.detection_runtime import rule_paths
from intel.service import RULE_ID as INTEL_RULE_ID

router = APIRouter(tags=["rules"])
READ_ROLES = (Role.ANALYST, Role.INCIDENT_MANAGER, Role.ADMIN)
SWITCH_ROLES = (Role.INCIDENT_MANAGER, Role.ADMIN)
Reader = Annotated[Principal, Depends(RequireRole(*READ_ROLES, scope="read:rules"))]
Switcher = Annotated[Principal, Depends(RequireRole(*SWITCH_ROLES, scope="write:rules"))]
Technique = Annotated[
    str | None,
    Query(max_length=20, pattern=r"^[Tt]\d{4}(\.\d{3})?$", description="only rules tagged so"),
]


class RuleOut(BaseModel):
    """A rule with its state: enabled flag, hit counter and profiled matching cost."""

    rule_id: str
    title: str
    kind: str
    level: str | None
    enabled: bool
    hits: int
    cost_ms: float
    last_hit_at: str | None
    tags: list[str]
    attack_tags: list[str]


class RuleDetailOut(RuleOut):
    """A rule with the YAML of its file and its stored Lucene query (or why it has none)."""

    yaml: str
    lucene: str | None
    lucene_error: str | None


class RuleList(BaseModel):
    rules: list[RuleOut]
    problems: list[str]


class SwitchIn(BaseModel):
    enabled: bool


class TestIn(BaseModel):
    """Events as JSON lines (one JSON object per line)."""

    events: str = Field(min_length=1, max_length=MAX_TEST_CHARS)


class MatchOut(BaseModel):
    line: int
    stack: str
    selections: list[str]
    values: dict[str, dict[str, Any]]


class TestOut(BaseModel):
    rule_id: str
    events: int
    matches: list[MatchOut]
    problems: list[str]


class CellOut(BaseModel):
    technique_id: str
    name: str
    count: int
    rule_ids: list[str]
    subtechniques: list[str]


class ColumnOut(BaseModel):
    tactic: str
    name: str
    covered: int
    techniques: list[CellOut]


class CoverageOut(BaseModel):
    attack_version: str
    enabled_rules: int
    covered_techniques: int
    tactics: list[ColumnOut]
    unknown_tags: list[str]


def _out(row: RuleRow) -> RuleOut:
    info = row.info
    return RuleOut(
        rule_id=info.rule_id,
        title=info.title,
        kind=info.kind,
        level=info.level,
        enabled=row.enabled,
        hits=row.hits,
        cost_ms=row.cost_ms,
        last_hit_at=row.last_hit_at.isoformat() if row.last_hit_at else None,
        tags=list(info.tags),
        attack_tags=list(row.attack_tags),
    )


def _test_out(outcome: TestOutcome) -> TestOut:
    return TestOut(
        rule_id=outcome.rule_id,
        events=outcome.events,
        matches=[
            MatchOut(line=m.line, stack=m.stack, selections=list(m.selections), values=m.values)
            for m in outcome.matches
        ],
        problems=outcome.problems,
    )


def _coverage(db: DbSession, settings: AppSettings) -> Coverage | str:
    catalog = load_catalog()
    if isinstance(catalog, str):
        return catalog
    rows, _ = rule_rows(db=db, paths=rule_paths(settings))
    return coverage(catalog=catalog, rules=[(row.info, row.enabled) for row in rows])


@router.get("/rules", response_class=HTMLResponse, summary="Detection rules (page)")
def rules_page(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    templates: Templates,
    user: Reader,
    technique: Technique = None,
) -> HTMLResponse:
    """Rules with hit counts, cost, level, enabled flag and ATT&CK tags."""
    rows, problems = rule_rows(db=db, paths=rule_paths(settings), technique=technique)
    context = {
        "rows": rows,
        "problems": problems,
        "technique": technique,
        "can_switch": user.role in SWITCH_ROLES,
    }
    return templates.TemplateResponse(request, "rules.html", context)


@router.get("/rules/{rule_id}", response_class=HTMLResponse, summary="Rule detail (page)")
def rule_page(
    rule_id: str,
    request: Request,
    db: DbSession,
    settings: AppSettings,
    templates: Templates,
    user: Reader,
) -> HTMLResponse:
    """The rule's YAML, its Lucene query and a form to test it on pasted events; the intel
    matcher's built-in pseudo-rule (the rule of every intel alert) gets a page explaining it."""
    if rule_id == INTEL_RULE_ID:
        return templates.TemplateResponse(request, "rule_intel.html", {"rule_id": rule_id})
    detail = rule_detail(db=db, paths=rule_paths(settings), rule_id=rule_id)
    context = {"detail": detail, "can_switch": user.role in SWITCH_ROLES, "outcome": None}
    return templates.TemplateResponse(request, "rule_detail.html", context)


@router.post("/rules/{rule_id}/enabled", summary="Enable or disable a rule (form)")
def switch_form(
    rule_id: str,
    db: WriteDb,
    clock: ClockDep,
    settings: AppSettings,
    user: Switcher,
    enabled: Annotated[bool, Form()],
) -> Response:
    """Audited as `detection.rule.enable` / `detection.rule.disable`."""
    switch_rule(
        db=db,
        clock=clock,
        actor=user.username,
        paths=rule_paths(settings),
        rule_id=rule_id,
        enabled=enabled,
    )
    return RedirectResponse(f"/rules/{rule_id}", status_code=303)


@router.post("/rules/{rule_id}/test", response_class=HTMLResponse, summary="Test a rule (form)")
def test_form(
    rule_id: str,
    request: Request,
    db: DbSession,
    settings: AppSettings,
    templates: Templates,
    user: Reader,
    events: Annotated[str, Form(max_length=MAX_TEST_CHARS)],
) -> HTMLResponse:
    """Which pasted events match, which selections and which field values made them match."""
    paths = rule_paths(settings)
    outcome = test_rule(
        db=db, paths=paths, rule_id=rule_id, text=events, stacks=settings.detection_stacks
    )
    context = {
        "detail": rule_detail(db=db, paths=paths, rule_id=rule_id),
        "can_switch": user.role in SWITCH_ROLES,
        "outcome": outcome,
        "pasted": events,
    }
    return templates.TemplateResponse(request, "rule_detail.html", context)


@router.get("/attack", response_class=HTMLResponse, summary="ATT&CK coverage matrix (page)")
def attack_page(
    request: Request, db: DbSession, settings: AppSettings, templates: Templates, user: Reader
) -> HTMLResponse:
    """Techniques covered by enabled rules, tactic columns in matrix order."""
    found = _coverage(db, settings)
    context = {
        "coverage": found if isinstance(found, Coverage) else None,
        "error": found if isinstance(found, str) else None,
    }
    return templates.TemplateResponse(request, "attack.html", context)


@router.get("/api/rules", response_model=RuleList, summary="Detection rules")
def api_rules(
    db: DbSession, settings: AppSettings, user: Reader, technique: Technique = None
) -> RuleList:
    """Every rule and correlation with its state; `technique` keeps those tagged with it."""
    rows, problems = rule_rows(db=db, paths=rule_paths(settings), technique=technique)
    return RuleList(rules=[_out(row) for row in rows], problems=problems)


@router.get("/api/attack/coverage", response_model=CoverageOut, summary="ATT&CK coverage")
def api_coverage(db: DbSession, settings: AppSettings, user: Reader) -> CoverageOut:
    """Per tactic, every technique with the enabled rules covering it (count 0 = a gap)."""
    found = _coverage(db, settings)
    if isinstance(found, str):
        raise ConflictError(f"ATT&CK data unavailable: {found}")
    return CoverageOut(
        attack_version=found.version,
        enabled_rules=found.enabled_rules,
        covered_techniques=found.covered,
        tactics=[
            ColumnOut(
                tactic=col.shortname,
                name=col.name,
                covered=col.covered,
                techniques=[
                    CellOut(
                        technique_id=c.technique_id,
                        name=c.name,
                        count=c.count,
                        rule_ids=list(c.rule_ids),
                        subtechniques=list(c.subtechniques),
                    )
                    for c in col.cells
                ],
            )
            for col in found.columns
        ],
        unknown_tags=list(found.unknown_tags),
    )


@router.get("/api/rules/{rule_id}", response_model=RuleDetailOut, summary="Rule detail")
def api_rule(rule_id: str, db: DbSession, settings: AppSettings, user: Reader) -> RuleDetailOut:
    """The rule, the YAML of its file, and its stored Lucene query if any."""
    detail = rule_detail(db=db, paths=rule_paths(settings), rule_id=rule_id)
    return RuleDetailOut(
        **_out(detail.row).model_dump(),
        yaml=detail.yaml,
        lucene=detail.row.lucene,
        lucene_error=detail.row.lucene_error,
    )


@router.post("/api/rules/{rule_id}/enabled", response_model=RuleOut, summary="Enable/disable")
def api_switch(
    rule_id: str,
    body: SwitchIn,
    db: WriteDb,
    clock: ClockDep,
    settings: AppSettings,
    user: Switcher,
) -> RuleOut:
    """Switch a rule on or off for the whole platform; audited."""
    row = switch_rule(
        db=db,
        clock=clock,
        actor=user.username,
        paths=rule_paths(settings),
        rule_id=rule_id,
        enabled=body.enabled,
    )
    return _out(row)


@router.post("/api/rules/{rule_id}/test", response_model=TestOut, summary="Test a rule")
def api_test(
    rule_id: str, body: TestIn, db: DbSession, settings: AppSettings, user: Reader
) -> TestOut:
    """Run the rule over the given JSON lines; nothing is stored."""
    outcome = test_rule(
        db=db,
        paths=rule_paths(settings),
        rule_id=rule_id,
        text=body.events,
        stacks=settings.detection_stacks,
    )
    return _test_out(outcome)
