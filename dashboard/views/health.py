"""Liveness and readiness for operators, `dijkwacht up` and the tests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from core.runtime import read_supervisor_status
from core.store.base import EventQuery
from dashboard.deps import PUBLIC, AppSettings, EventStoreDep

router = APIRouter(tags=["health"], dependencies=[PUBLIC])


@router.get("/livez", summary="Liveness: the web process answers")
async def livez() -> dict[str, str]:
    """No store, template or thread: a probe that says the process serves requests at all.

    `/health` is the readiness check. This is also the cheapest request the server answers,
    which `bench/dashboard.py` times as the floor under every page.
    """
    return {"status": "alive"}


@router.get("/health", summary="Health of the platform and its parts")
def health(settings: AppSettings, events: EventStoreDep) -> JSONResponse:
    """200 when the API can read its stores; components report their own state."""
    components: dict[str, Any] = {}
    healthy = True
    try:
        components["event_store"] = {"ok": True, "events": events.count(EventQuery())}
    except Exception as exc:  # boundary: report any store failure as unhealthy, never crash
        healthy = False
        components["event_store"] = {"ok": False, "error": type(exc).__name__}
    supervisor = read_supervisor_status(settings)
    if supervisor is not None:
        components["processes"] = supervisor.get("children", {})
    status = "ok" if healthy else "degraded"
    return JSONResponse({"status": status, "components": components}, 200 if healthy else 503)
