"""Liveness, readiness and health for operators, `dijkwacht up`, load balancers and the tests.

- `/livez`: the web process answers (no store, no file).
- `/readyz`: 200 when the event store answers, every process `up` supervises is running and
  the collector is not paused; otherwise 503 with the degraded components and their reasons.
- `/health`: the whole picture for people; `status` is `ok` or `degraded` (with the same
  reasons). It is 503 only when the API itself cannot read its event store.

The supervisor's and the collector's states come from their status files (`core.runtime`); a
collector status not refreshed for `STALE_SECONDS` counts as degraded (a killed collector
cannot say so itself).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from core.config import Settings
from core.runtime import read_collector_status, read_supervisor_status
from core.store.base import EventQuery, EventStore
from dashboard.deps import PUBLIC, AppSettings, EventStoreDep

router = APIRouter(tags=["health"], dependencies=[PUBLIC])

# The collector refreshes its status at least every `collectors.health.REFRESH_SECONDS` (10 s).
STALE_SECONDS = 60.0


@router.get("/livez", summary="Liveness: the web process answers")
async def livez() -> dict[str, str]:
    """No store, template or thread: a probe that says the process serves requests at all.

    `/readyz` is the readiness check. This is also the cheapest request the server answers,
    which `bench/dashboard.py` times as the floor under every page.
    """
    return {"status": "alive"}


def _event_store(events: EventStore, *, count: bool) -> tuple[dict[str, Any], str | None]:
    """The store's state; `count=False` (probes) reads one event instead of counting all."""
    try:
        if count:
            return {"ok": True, "events": events.count(EventQuery())}, None
        events.search(EventQuery(limit=1))
        return {"ok": True}, None
    except Exception as exc:  # boundary: report any store failure as degraded, never crash
        return {"ok": False, "error": type(exc).__name__}, f"cannot read: {type(exc).__name__}"


def degraded_components(
    settings: Settings, *, now: float | None = None
) -> tuple[dict[str, str], dict[str, Any] | None, dict[str, Any] | None]:
    """(component -> reason, supervisor status, collector status) from the status files."""
    now = time.time() if now is None else now
    degraded: dict[str, str] = {}
    supervisor = read_supervisor_status(settings)
    if supervisor is not None and supervisor.get("status") != "stopped":
        for name, child in supervisor.get("children", {}).items():
            if child.get("state") != "running":
                degraded[f"process:{name}"] = (
                    f"{child.get('state')} (restarts {child.get('restarts', 0)}, "
                    f"last exit code {child.get('last_exit')})"
                )
    collector = read_collector_status(settings)
    if collector is not None and collector.get("state") != "stopped":
        age = now - float(collector.get("updated_at", 0))
        if age > STALE_SECONDS:
            degraded["collector"] = f"no status for {age:.0f} s"
        for component, fault in collector.get("paused", {}).items():
            retry = fault.get("retry_after_s")
            degraded[f"collector:{component}"] = f"paused: {fault.get('reason')} (retry {retry} s)"
    return degraded, supervisor, collector


@router.get("/readyz", summary="Readiness: 200 when every part is ready, else 503 naming why")
def readyz(settings: AppSettings, events: EventStoreDep) -> JSONResponse:
    """What a load balancer or `dijkwacht up` watcher asks: can the platform take work now?"""
    degraded, _, _ = degraded_components(settings)
    _, store_problem = _event_store(events, count=False)
    if store_problem is not None:
        degraded["event_store"] = store_problem
    if degraded:
        return JSONResponse({"status": "degraded", "degraded": degraded}, 503)
    return JSONResponse({"status": "ready"}, 200)


@router.get("/health", summary="Health of the platform and its parts")
def health(settings: AppSettings, events: EventStoreDep) -> JSONResponse:
    """200 when the API can read its stores; `status` says `degraded` with the reasons."""
    components: dict[str, Any] = {}
    store, store_problem = _event_store(events, count=True)
    components["event_store"] = store
    degraded, supervisor, collector = degraded_components(settings)
    if store_problem is not None:
        degraded["event_store"] = store_problem
    if supervisor is not None:
        components["processes"] = supervisor.get("children", {})
    if collector is not None:
        components["collector"] = {k: collector.get(k) for k in ("state", "paused", "pid")}
    body: dict[str, Any] = {"status": "degraded" if degraded else "ok", "components": components}
    if degraded:
        body["degraded"] = degraded
    return JSONResponse(body, 200 if store_problem is None else 503)
