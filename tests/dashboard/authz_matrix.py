"""The authorisation matrix: every route of `create_app` × every role (and anonymous).

To add a route: add one line to EXPECTED with a helper below, e.g.
    ("GET", "/incidents"): page(Role.INCIDENT_MANAGER, Role.ANALYST),
    ("POST", "/api/incidents"): api(Role.INCIDENT_MANAGER, ok=422),
The status for allowed roles is what the matrix request gets (no body, sample path values
from SAMPLE_PATH_VALUES), so it is often 404 or 422 rather than 200: what matters is that
forbidden roles get 403 and anonymous callers 303 (pages) or 401 (API).
"""

from __future__ import annotations

from core.accounts.models import Role

ANONYMOUS = "anonymous"
ROLES: tuple[Role, ...] = tuple(Role)
WHO: tuple[str, ...] = (ANONYMOUS, *(role.value for role in ROLES))
SAMPLE_PATH_VALUES = {
    "alert_id": "no-such-alert",
    "rule_id": "no-such-rule",
    "request_id": "999999",
    "username": "no-such-user",
    "token_id": "999999",
    "source": "matrix",
    "lang": "nl",
    "audience": "library",
    "name": "phishing-newsletter.txt",
    "incident_id": "999999",
    "breach_id": "999999",
    "batch_id": "999999",
    "report_id": "999999",
    "step_id": "999999",
    "exception_id": "999999",
    "task_id": "999999",
    "window_id": "999999",
    "run_id": "999999",
    "exercise_id": "oef-no-such-exercise",
    "expectation_id": "E1",
    "schedule_id": "999999",
    "advisory_id": "999999",
    "item_id": "999999",
    "action_id": "999999",
    "recipient_id": "999999",
    "framework": "bio2",
    "measure_id": "0.00.00",
    "partner_id": "999999",
}

Expected = dict[str, int]


def _table(allowed: tuple[Role, ...], ok: int, anonymous: int) -> Expected:
    table = {ANONYMOUS: anonymous}
    for role in ROLES:
        table[role.value] = ok if role in allowed else 403
    return table


def page(*allowed: Role, ok: int = 200) -> Expected:
    """A page: anonymous callers are sent to the login form (303)."""
    return _table(allowed, ok, 303)


def api(*allowed: Role, ok: int = 200) -> Expected:
    """A JSON call: anonymous callers get 401."""
    return _table(allowed, ok, 401)


def everyone(status: int = 200) -> Expected:
    """A public route: the same answer for everyone."""
    return dict.fromkeys(WHO, status)


ALL = ROLES
TRIAGE = (Role.ANALYST, Role.INCIDENT_MANAGER)
REID = (Role.ANALYST, Role.INCIDENT_MANAGER, Role.DPO)
APPROVERS = (Role.DPO, Role.INCIDENT_MANAGER)
INCIDENT_READERS = (Role.ANALYST, Role.INCIDENT_MANAGER, Role.CRISIS_TEAM)
STEP_APPROVERS = (Role.INCIDENT_MANAGER, Role.DPO, Role.CRISIS_TEAM)
CLOCK_READERS = (Role.DPO, Role.INCIDENT_MANAGER, Role.CRISIS_TEAM)
OPS = (Role.ANALYST, Role.INCIDENT_MANAGER, Role.ADMIN)
CHARTS = (Role.ANALYST, Role.INCIDENT_MANAGER, Role.CRISIS_TEAM, Role.DPO, Role.ADMIN)
RULE_READERS = (Role.ANALYST, Role.INCIDENT_MANAGER, Role.ADMIN)  # read, coverage, test a rule
RULE_SWITCHERS = (Role.INCIDENT_MANAGER, Role.ADMIN)  # enable/disable changes all detection
COMPLIANCE_READERS = (Role.AUDITOR, Role.DPO, Role.ADMIN)
DRILL_PLAYERS = (
    Role.EXERCISE_CONTROLLER,
    Role.CRISIS_TEAM,
    Role.DPO,
    Role.INCIDENT_MANAGER,
    Role.ANALYST,
)

EXPECTED: dict[tuple[str, str], Expected] = {
    # framework and static files: public, no personal data
    ("GET", "/openapi.json"): everyone(),
    ("GET", "/language/{lang}"): everyone(303),  # a preference cookie, then back
    ("GET", "/docs"): everyone(),  # our Swagger UI page on vendored assets (views/apidocs.py)
    ("MOUNT", "/static"): everyone(),  # the matrix fetches /static/dijkwacht.css
    # public pages
    ("GET", "/health"): everyone(),
    ("GET", "/livez"): everyone(),
    ("GET", "/readyz"): everyone(),
    # home: each role's own start page; anonymous visitors go to the public awareness pages
    ("GET", "/"): page(*ALL),
    ("GET", "/metrics"): page(Role.ADMIN),
    ("GET", "/login"): everyone(),
    ("POST", "/login"): everyone(422),  # CSRF passes in the matrix; the form is empty
    # OIDC login: open to everyone (state protects the callback); 404 while oidc_enabled is off
    ("GET", "/login/oidc"): everyone(404),
    ("GET", "/login/oidc/callback"): everyone(404),
    # awareness: public resilience content, no personal data (the bulletin shows levels only)
    ("GET", "/awareness/index.html"): everyone(),
    ("GET", "/awareness/{lang}/feed.atom"): everyone(),
    ("GET", "/awareness/{lang}/{audience}/bulletin.html"): everyone(),
    ("GET", "/awareness/{lang}/{audience}/{name}"): everyone(),
    # an ingest-scoped API token, not a session: everyone without one gets 401
    ("POST", "/api/ingest/{source}"): everyone(401),
    # session
    ("POST", "/logout"): page(*ALL, ok=303),
    ("GET", "/api/me"): api(*ALL),
    # alerts
    ("GET", "/alerts"): page(*TRIAGE),
    ("POST", "/alerts/bulk"): page(*TRIAGE, ok=422),
    ("GET", "/alerts/{alert_id}"): page(*TRIAGE, ok=404),
    ("GET", "/api/alerts"): api(*TRIAGE),
    ("GET", "/api/alerts/count"): api(*TRIAGE),
    ("POST", "/api/alerts/bulk"): api(*TRIAGE, ok=422),
    ("GET", "/api/alerts/{alert_id}"): api(*TRIAGE, ok=404),
    # events
    ("GET", "/events"): page(*TRIAGE),
    ("GET", "/api/events"): api(*TRIAGE),
    # DPO: who viewed my data
    ("GET", "/dpo/access-report"): page(Role.DPO),
    ("POST", "/dpo/access-report"): page(Role.DPO, ok=422),
    ("POST", "/api/access-report"): api(Role.DPO, ok=422),
    ("POST", "/api/access-report/pdf"): api(Role.DPO, ok=422),
    # re-identification
    ("GET", "/reidentification"): page(*REID),
    ("POST", "/reidentification"): page(*REID, ok=422),
    ("POST", "/reidentification/{request_id}/approve"): page(*APPROVERS, ok=404),
    ("POST", "/reidentification/{request_id}/reject"): page(*APPROVERS, ok=422),
    ("POST", "/reidentification/{request_id}/verify"): page(*REID, ok=422),
    ("GET", "/api/reidentification"): api(*REID),
    ("POST", "/api/reidentification"): api(*REID, ok=422),
    ("POST", "/api/reidentification/{request_id}/approve"): api(*APPROVERS, ok=404),
    ("POST", "/api/reidentification/{request_id}/reject"): api(*APPROVERS, ok=422),
    ("POST", "/api/reidentification/{request_id}/verify"): api(*REID, ok=422),
    # admin
    ("GET", "/admin/users"): page(Role.ADMIN),
    ("POST", "/admin/users"): page(Role.ADMIN, ok=422),
    ("POST", "/admin/users/{username}/unlock"): page(Role.ADMIN, ok=404),
    ("POST", "/admin/users/{username}/active"): page(Role.ADMIN, ok=422),
    ("POST", "/admin/users/{username}/role"): page(Role.ADMIN, ok=422),
    ("POST", "/admin/users/{username}/password"): page(Role.ADMIN, ok=422),
    ("GET", "/admin/tokens"): page(Role.ADMIN),
    ("POST", "/admin/tokens"): page(Role.ADMIN, ok=422),
    ("POST", "/admin/tokens/{token_id}/revoke"): page(Role.ADMIN, ok=404),
    ("GET", "/api/admin/users"): api(Role.ADMIN),
    ("POST", "/api/admin/users"): api(Role.ADMIN, ok=422),
    ("POST", "/api/admin/users/{username}/unlock"): api(Role.ADMIN, ok=404),
    ("POST", "/api/admin/users/{username}/role"): api(Role.ADMIN, ok=422),
    ("POST", "/api/admin/users/{username}/password"): api(Role.ADMIN, ok=422),
    ("GET", "/api/admin/tokens"): api(Role.ADMIN),
    ("POST", "/api/admin/tokens"): api(Role.ADMIN, ok=422),
    ("POST", "/api/admin/tokens/{token_id}/revoke"): api(Role.ADMIN, ok=404),
    # incidents, playbook runs and approvals
    ("GET", "/incidents"): page(*INCIDENT_READERS),
    ("GET", "/api/incidents"): api(*INCIDENT_READERS),
    # The DPO also reads an incident linked to a breach (read only); the sample incident has no
    # breach, so the DPO gets 403 here (tests/dashboard/test_dpo_breach_pages.py: linked → 200).
    ("GET", "/incidents/{incident_id}"): page(*INCIDENT_READERS, ok=404),
    ("GET", "/api/incidents/{incident_id}"): api(*INCIDENT_READERS, ok=404),
    ("POST", "/alerts/{alert_id}/incident"): page(*TRIAGE, ok=404),
    ("POST", "/api/alerts/{alert_id}/incident"): api(*TRIAGE, ok=404),
    ("POST", "/steps/{step_id}/request"): page(*TRIAGE, ok=404),
    ("POST", "/steps/{step_id}/approve"): page(*STEP_APPROVERS, ok=404),
    # working a case (issue 17): forms on the incident page and the JSON API
    ("POST", "/incidents/{incident_id}/status"): page(*TRIAGE, ok=422),
    ("POST", "/incidents/{incident_id}/close"): page(*TRIAGE, ok=422),
    ("POST", "/incidents/{incident_id}/assign"): page(*TRIAGE, ok=404),
    ("POST", "/incidents/{incident_id}/severity"): page(*TRIAGE, ok=422),
    ("POST", "/incidents/{incident_id}/comments"): page(*TRIAGE, ok=404),
    ("POST", "/incidents/{incident_id}/observables"): page(*TRIAGE, ok=422),
    ("POST", "/incidents/{incident_id}/merge"): page(*TRIAGE, ok=404),
    ("POST", "/incidents/{incident_id}/evidence"): page(*TRIAGE, ok=422),
    ("POST", "/incidents/{incident_id}/police-package"): page(*TRIAGE, ok=404),
    ("POST", "/incidents/{incident_id}/tasks/{step_id}/complete"): page(*TRIAGE, ok=404),
    ("POST", "/incidents/{incident_id}/decisions/{step_id}"): page(*TRIAGE, ok=422),
    ("POST", "/api/incidents/{incident_id}/status"): api(*TRIAGE, ok=422),
    ("POST", "/api/incidents/{incident_id}/close"): api(*TRIAGE, ok=422),
    ("POST", "/api/incidents/{incident_id}/assign"): api(*TRIAGE, ok=422),
    ("POST", "/api/incidents/{incident_id}/comments"): api(*TRIAGE, ok=422),
    ("POST", "/api/incidents/{incident_id}/observables"): api(*TRIAGE, ok=422),
    ("POST", "/api/incidents/{incident_id}/merge"): api(*TRIAGE, ok=422),
    ("POST", "/api/incidents/{incident_id}/severity"): api(*TRIAGE, ok=422),
    ("POST", "/api/incidents/{incident_id}/evidence"): api(*TRIAGE, ok=422),
    ("POST", "/api/steps/{step_id}/decide"): api(*TRIAGE, ok=422),
    ("POST", "/api/steps/{step_id}/complete"): api(*TRIAGE, ok=422),
    ("POST", "/api/steps/{step_id}/request"): api(*TRIAGE, ok=404),
    ("POST", "/api/steps/{step_id}/approve"): api(*STEP_APPROVERS, ok=404),
    # linking more alerts and ad-hoc tasks (issue 17)
    ("POST", "/incidents/{incident_id}/alerts"): page(*TRIAGE, ok=404),
    ("POST", "/alerts/{alert_id}/link"): page(*TRIAGE, ok=400),
    ("POST", "/incidents/{incident_id}/tasks"): page(*TRIAGE, ok=404),
    ("POST", "/incidents/{incident_id}/adhoc/{task_id}/complete"): page(*TRIAGE, ok=404),
    ("POST", "/api/incidents/{incident_id}/alerts"): api(*TRIAGE, ok=422),
    ("POST", "/api/incidents/{incident_id}/tasks"): api(*TRIAGE, ok=422),
    ("POST", "/api/tasks/{task_id}/complete"): api(*TRIAGE, ok=422),
    # alert exceptions and maintenance windows (issue 17)
    ("GET", "/exceptions"): page(*OPS),
    ("GET", "/alerts/{alert_id}/exception"): page(*TRIAGE, ok=404),
    ("POST", "/exceptions"): page(*TRIAGE, ok=400),
    ("POST", "/exceptions/{exception_id}/expire"): page(*TRIAGE, ok=404),
    ("POST", "/maintenance"): page(*TRIAGE, ok=400),
    ("POST", "/exceptions/{exception_id}/edit"): page(*TRIAGE, ok=400),
    ("POST", "/maintenance/{window_id}/end"): page(*TRIAGE, ok=404),
    ("POST", "/api/exceptions/{exception_id}/edit"): api(*TRIAGE, ok=422),
    ("POST", "/api/maintenance/{window_id}/end"): api(*TRIAGE, ok=422),
    ("GET", "/api/exceptions"): api(*OPS),
    ("POST", "/api/exceptions"): api(*TRIAGE, ok=422),
    ("POST", "/api/exceptions/{exception_id}/expire"): api(*TRIAGE, ok=422),
    ("GET", "/api/maintenance"): api(*OPS),
    ("POST", "/api/maintenance"): api(*TRIAGE, ok=422),
    # threat intel (issue 24): analysts and admins read; only admins import
    ("GET", "/intel"): page(Role.ANALYST, Role.ADMIN),
    ("POST", "/intel/import"): page(Role.ADMIN, ok=400),
    ("GET", "/api/intel/indicators"): api(Role.ANALYST, Role.ADMIN),
    ("GET", "/api/intel/sources"): api(Role.ANALYST, Role.ADMIN),
    ("POST", "/api/intel/import"): api(Role.ADMIN, ok=422),
    ("POST", "/api/intel/export/{incident_id}"): api(*TRIAGE, ok=404),
    ("GET", "/runs/{run_id}"): page(*INCIDENT_READERS, ok=404),
    # DPO area: breach register, clocks, letters
    ("GET", "/dpo/breaches"): page(Role.DPO),
    ("GET", "/api/breaches"): api(Role.DPO),
    ("POST", "/api/breaches"): api(Role.DPO, ok=400),
    ("POST", "/api/breaches/{breach_id}/facts"): api(Role.DPO, ok=404),
    ("POST", "/api/breaches/{breach_id}/assessment"): api(Role.DPO, ok=404),
    ("POST", "/api/breaches/{breach_id}/decision"): api(Role.DPO, ok=400),
    ("POST", "/api/breaches/{breach_id}/reports"): api(Role.DPO, ok=404),
    ("POST", "/api/breaches/{breach_id}/letters"): api(Role.DPO, ok=400),
    ("POST", "/api/breaches/{breach_id}/close"): api(Role.DPO, ok=400),
    ("GET", "/dpo/breaches/{breach_id}"): page(Role.DPO, ok=404),
    ("GET", "/api/breaches/{breach_id}"): api(Role.DPO, ok=404),
    ("GET", "/dpo/clocks"): page(*CLOCK_READERS),
    ("GET", "/api/breach-clocks"): api(*CLOCK_READERS),
    ("GET", "/dpo/letters/{batch_id}"): page(Role.DPO, ok=404),
    ("POST", "/dpo/letters/{batch_id}/approve"): page(Role.DPO, ok=404),
    ("POST", "/dpo/letters/{batch_id}/recipients/{recipient_id}/identify"): page(Role.DPO, ok=404),
    # DPO breach journey (issue 19): open, facts, assess, decide, reports, letters, close
    ("GET", "/dpo/breaches/new"): page(Role.DPO),
    ("POST", "/dpo/breaches"): page(Role.DPO, ok=422),
    ("POST", "/dpo/breaches/{breach_id}/facts"): page(Role.DPO, ok=404),
    ("POST", "/dpo/breaches/{breach_id}/assessment"): page(Role.DPO, ok=404),
    ("POST", "/dpo/breaches/{breach_id}/decision"): page(Role.DPO, ok=404),
    ("POST", "/dpo/breaches/{breach_id}/reports"): page(Role.DPO, ok=404),
    ("POST", "/dpo/breaches/{breach_id}/letters"): page(Role.DPO, ok=404),
    ("POST", "/dpo/breaches/{breach_id}/close"): page(Role.DPO, ok=404),
    ("GET", "/dpo/reports/{report_id}"): page(Role.DPO, ok=404),
    ("POST", "/dpo/reports/{report_id}"): page(Role.DPO, ok=404),
    ("POST", "/dpo/reports/{report_id}/follow-up"): page(Role.DPO, ok=404),
    ("GET", "/dpo/reports/{report_id}.pdf"): page(Role.DPO, ok=404),
    ("GET", "/dpo/reports/{report_id}.json"): page(Role.DPO, ok=404),
    ("POST", "/dpo/letters/{batch_id}/release"): page(Role.DPO, ok=404),
    ("GET", "/dpo/register.csv"): page(Role.DPO),
    ("GET", "/dpo/register.pdf"): page(Role.DPO),
    ("GET", "/dpo/requests"): page(Role.DPO),
    ("POST", "/dpo/requests"): page(Role.DPO, ok=422),
    ("POST", "/dpo/requests/{request_id}/extend"): page(Role.DPO, ok=404),
    ("POST", "/dpo/requests/{request_id}/answer"): page(Role.DPO, ok=404),
    ("GET", "/dpo/requests.csv"): page(Role.DPO),
    ("GET", "/dpo/requests.pdf"): page(Role.DPO),
    # detection rules and ATT&CK coverage (no personal data; pasted test events are not stored)
    ("GET", "/rules"): page(*RULE_READERS),
    ("GET", "/rules/{rule_id}"): page(*RULE_READERS, ok=404),
    ("POST", "/rules/{rule_id}/enabled"): page(*RULE_SWITCHERS, ok=422),
    ("POST", "/rules/{rule_id}/test"): page(*RULE_READERS, ok=422),
    ("GET", "/attack"): page(*RULE_READERS),
    ("GET", "/api/rules"): api(*RULE_READERS),
    ("GET", "/api/rules/{rule_id}"): api(*RULE_READERS, ok=404),
    ("POST", "/api/rules/{rule_id}/enabled"): api(*RULE_SWITCHERS, ok=422),
    ("POST", "/api/rules/{rule_id}/test"): api(*RULE_READERS, ok=422),
    ("GET", "/api/attack/coverage"): api(*RULE_READERS),
    # operations: collector health and metrics charts (counters only)
    ("GET", "/collectors"): page(*OPS),
    ("GET", "/api/collectors"): api(*OPS),
    ("GET", "/charts"): page(*CHARTS),
    ("GET", "/api/charts"): api(*CHARTS),
    # drills: players and the exercise controller; published summaries are public
    ("GET", "/drills"): page(*DRILL_PLAYERS),
    ("GET", "/drills/{exercise_id}"): page(*DRILL_PLAYERS, ok=404),
    ("POST", "/drills/{exercise_id}/entries"): page(*DRILL_PLAYERS, ok=404),
    ("GET", "/drills/plan"): page(Role.EXERCISE_CONTROLLER),
    ("POST", "/drills/schedules/{schedule_id}/cancel"): page(Role.EXERCISE_CONTROLLER, ok=404),
    ("POST", "/drills/schedules/{schedule_id}/move"): page(Role.EXERCISE_CONTROLLER, ok=422),
    ("GET", "/drills/schedules/{schedule_id}/edit"): page(Role.EXERCISE_CONTROLLER, ok=404),
    ("POST", "/drills/schedules/{schedule_id}/edit"): page(Role.EXERCISE_CONTROLLER, ok=404),
    ("POST", "/drills/{exercise_id}/lessons"): page(Role.EXERCISE_CONTROLLER, ok=404),
    ("POST", "/drills/actions/{action_id}/done"): page(*ROLES, ok=404),
    ("POST", "/drills/{exercise_id}/skip"): page(Role.EXERCISE_CONTROLLER, ok=422),
    ("POST", "/drills/{exercise_id}/adhoc"): page(Role.EXERCISE_CONTROLLER, ok=404),
    ("POST", "/drills/plan"): page(Role.EXERCISE_CONTROLLER, ok=422),
    ("GET", "/drills/{exercise_id}/injects"): page(*DRILL_PLAYERS, ok=404),
    ("POST", "/drills/{exercise_id}/control"): page(Role.EXERCISE_CONTROLLER, ok=422),
    ("POST", "/drills/{exercise_id}/expectations/{expectation_id}"): page(
        Role.EXERCISE_CONTROLLER, ok=422
    ),
    ("POST", "/drills/{exercise_id}/report"): page(Role.EXERCISE_CONTROLLER, ok=404),
    ("GET", "/drills/{exercise_id}/report"): page(*DRILL_PLAYERS, ok=404),
    ("GET", "/drills/{exercise_id}/report.pdf"): page(*DRILL_PLAYERS, ok=404),
    ("POST", "/drills/{exercise_id}/publish"): page(Role.EXERCISE_CONTROLLER, ok=404),
    ("GET", "/oefeningen"): everyone(),
    ("GET", "/oefeningen/{exercise_id}"): everyone(404),
    # inventory, expected log sources and CSAF advisories (issue 24): admins edit
    ("GET", "/inventory"): page(*OPS),
    ("POST", "/inventory/import"): page(Role.ADMIN, ok=422),
    ("POST", "/inventory/sources"): page(Role.ADMIN, ok=400),
    ("POST", "/inventory/sources/forget"): page(Role.ADMIN, ok=404),
    ("GET", "/advisories"): page(*OPS),
    ("POST", "/advisories/import"): page(Role.ADMIN, ok=422),
    ("POST", "/advisories/{advisory_id}/items/{item_id}/accept"): page(
        Role.INCIDENT_MANAGER, Role.ADMIN, ok=400
    ),
    ("GET", "/api/inventory"): api(*OPS),
    ("GET", "/api/expected-sources"): api(*OPS),
    ("POST", "/api/expected-sources"): api(Role.ADMIN, ok=422),
    ("GET", "/api/advisories"): api(*OPS),
    ("POST", "/api/advisories/{advisory_id}/items/{item_id}/accept-risk"): api(
        Role.INCIDENT_MANAGER, Role.ADMIN, ok=422
    ),
    # compliance (issue 25): read-only for the auditor, the DPO and admin; every read audited
    ("GET", "/compliance/{framework}"): page(*COMPLIANCE_READERS),
    ("GET", "/compliance/{framework}/measures/{measure_id}"): page(*COMPLIANCE_READERS, ok=404),
    ("GET", "/compliance/{framework}/report"): page(*COMPLIANCE_READERS),
    ("GET", "/compliance/{framework}/package"): page(*COMPLIANCE_READERS),
    # Logboek Dataverwerkingen (issue 23): the read API (400 without a filter) and DPO pages
    ("POST", "/api/ldv/lezen/v1/processing-activities"): api(*TRIAGE, Role.DPO, ok=400),
    ("GET", "/dpo/ldv"): page(Role.DPO),
    ("POST", "/dpo/ldv/streams"): page(Role.DPO, ok=422),
    ("GET", "/dpo/ldv/partners"): page(Role.DPO),
    ("POST", "/dpo/ldv/partners"): page(Role.DPO, ok=422),
    ("GET", "/dpo/ldv/partners/{partner_id}"): page(Role.DPO, ok=404),
    ("POST", "/dpo/ldv/partners/{partner_id}"): page(Role.DPO, ok=404),
    ("GET", "/dpo/ldv/partners/{partner_id}/evidence.csv"): page(Role.DPO, ok=404),
    ("GET", "/dpo/ldv/partners/{partner_id}/evidence.pdf"): page(Role.DPO, ok=404),
}

# Routes that authenticate on their own instead of declaring RequireRole/PUBLIC, with why.
SELF_AUTHENTICATED: dict[tuple[str, str], str] = {
    ("POST", "/api/ingest/{source}"): "an API token with the ingest scope (collectors.http_ingest)",
}
FRAMEWORK_PATHS = frozenset({"/openapi.json"})
