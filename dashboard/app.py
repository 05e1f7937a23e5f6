"""The web composition root: `create_app(settings)` builds the FastAPI app for every role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from core.clock import SystemClock
from core.config import Settings, get_settings
from core.gc_tuning import prepare_gc
from core.store.factory import open_event_store
from core.store.sqlite_event_text import SliceCounts
from dashboard import i18n
from dashboard.deps import close_store_pools
from dashboard.platform_metrics import RequestTimer
from dashboard.security import csrf_form_token, install_security
from dashboard.views import (
    admin,
    alerts,
    apidocs,
    auth,
    case_links,
    casework,
    casework_api,
    dpo,
    dpo_reports,
    dpo_requests,
    dpo_work,
    events,
    exceptions,
    health,
    home,
    incidents,
    ingest,
    intel,
    language,
    metrics,
    oidc,
    ops,
    privacy,
    rules,
)
from dashboard.views import advisories as advisories_views
from dashboard.views import awareness as awareness_views
from dashboard.views import compliance as compliance_views
from dashboard.views import drills as drills_views
from dashboard.views import ldv as ldv_views
from dijkwacht import __version__

PACKAGE_DIR = Path(__file__).resolve().parent


def create_templates(timezone: str = "Europe/Amsterdam") -> Jinja2Templates:
    """Jinja2 with autoescape on for every template, whatever its file extension.

    Times are stored in UTC; the `local` filter shows them in the municipality's zone.
    """
    templates = Jinja2Templates(directory=str(PACKAGE_DIR / "templates"))
    templates.env.autoescape = True
    zone = ZoneInfo(timezone)
    templates.env.filters["local"] = partial(local_time, zone=zone)
    templates.env.filters["local_offset"] = partial(local_time, zone=zone, offset=True)
    templates.env.filters["age"] = age
    i18n.install(templates.env)
    return templates


def _moment(value: datetime | str | None) -> datetime | None:
    """An aware datetime from a datetime or ISO string (a trailing Z included), else None."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        return None
    return value


def local_time(value: datetime | str | None, *, zone: ZoneInfo, offset: bool = False) -> str:
    """The one clock: `28-11-2026 14:05:09` in the municipality's zone, to the second.

    With `offset` (deadlines, clocks) the UTC offset follows: `28-11-2026 14:05:09 +01:00`.
    Values that are no aware time pass through as they are.
    """
    if value is None or value == "":
        return ""
    moment = _moment(value)
    if moment is None:
        return str(value)
    local = moment.astimezone(zone)
    # By hand rather than strftime: this runs for every row of the alert queue, and strftime
    # alone took a third of a row's render time.
    text = (
        f"{local.day:02d}-{local.month:02d}-{local.year:04d} "
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    )
    if offset:
        minutes = int((local.utcoffset() or timedelta()).total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        text += f" {sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return text


def age(value: datetime | str | None, now: datetime | None = None) -> str:
    """How long ago (or, negative, how far ahead): `3 d 4 h`, `2 h 5 m`, `40 s`; '' if no time."""
    moment = _moment(value)
    if moment is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes} m"
    if minutes:
        return f"{sign}{minutes} m"
    return f"{sign}{secs} s"


def create_app(settings: Settings) -> FastAPI:
    """Build the app; stores are opened per request, never at import time."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Bring the event store's schema up once, before the first request opens it.
        open_event_store(settings).close()
        yield
        close_store_pools(app.state)

    app = FastAPI(
        title="Dijkwacht",
        version=_version(),
        description="Security operations and resilience platform of the municipality.",
        lifespan=lifespan,
        # /docs is our own page on vendored Swagger UI assets (works offline, same CSP).
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store_pools = {}
    app.state.event_slice_counts = SliceCounts()
    app.state.clock = SystemClock()
    app.state.templates = create_templates(settings.timezone)
    _install_security(app)
    # issue #22 (metrics): request latency by route template; outermost, so it times it all.
    app.add_middleware(RequestTimer)
    app.mount("/static", StaticFiles(directory=str(PACKAGE_DIR / "static")), name="static")
    app.include_router(health.router)
    app.include_router(apidocs.router)
    app.include_router(language.router)
    app.include_router(home.router)
    app.include_router(metrics.router)
    app.include_router(ingest.router)
    app.include_router(awareness_views.router)  # public resilience content
    for router in (auth.router, alerts.router, events.router, privacy.router, admin.router):
        app.include_router(router)
    for router in (incidents.router, dpo.router, ops.router, rules.router, oidc.router):
        app.include_router(router)
    # The DPO's breach journey (issue 19): its pages and the report editor.
    app.include_router(dpo_work.router)
    app.include_router(dpo_reports.router)
    app.include_router(dpo_requests.router)
    app.include_router(drills_views.router)  # exercises; /oefeningen is public
    app.include_router(casework.router)  # issue 17: working a case
    app.include_router(casework_api.router)
    app.include_router(case_links.router)  # issue 17: linking alerts, ad-hoc tasks
    app.include_router(exceptions.router)  # issue 17: alert exceptions, maintenance windows
    app.include_router(advisories_views.router)  # issue 24: inventory, advisories, sources
    app.include_router(intel.router)  # issue 24: threat-intel indicators and feeds
    app.include_router(compliance_views.router)  # issue 25: BIO2 measures for the auditor
    app.include_router(ldv_views.router)  # issue 23: Logboek Dataverwerkingen
    return app


def _install_security(app: FastAPI) -> None:
    """Access errors, security headers, the purpose form and the CSRF token in templates."""

    install_security(app)
    app.add_middleware(i18n.LanguageMiddleware)
    app.state.templates.env.globals["csrf_token"] = csrf_form_token


def create_app_from_environment() -> FastAPI:
    """Factory for `uvicorn --factory`: settings from the environment and TOML file.

    This is the server process's start-up, so the garbage collector is prepared here as the
    collector prepares it (`core.gc_tuning`): the app, FastAPI, pydantic and SQLAlchemy are
    frozen out of later full collections, which otherwise walk them every few dozen requests.
    """

    app = create_app(get_settings())
    warm_templates(app.state.templates)
    prepare_gc()
    return app


def warm_templates(templates: Jinja2Templates) -> None:
    """Compile every template before the first request (1–2 s of CPU per worker process).

    Otherwise each web worker compiles a page's template on its first request for it: under
    load that is the first seconds of every worker, when 30 analysts open their pages at once.
    Only the server's factory does this; tests build apps by the hundred and compile lazily.
    """
    for name in templates.env.list_templates(extensions=["html", "txt", "xml", "svg"]):
        templates.env.get_template(name)


def _version() -> str:

    return __version__
