"""`POST /api/ingest/{source}`: NDJSON batch ingest with a per-source token (thin route)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from collectors.http_ingest import (
    IngestResult,
    PayloadTooLargeError,
    SpoolFullError,
    UnauthorizedError,
    authenticate,
    ingest_ndjson,
)
from collectors.spool import open_spool
from core.errors import ValidationError
from dashboard.deps import AppSettings, ClockDep, DbSession, IngestEnrich

router = APIRouter(tags=["ingest"])


async def _read_limited(request: Request, limit: int) -> bytes:
    """Read the body, refusing it as soon as it passes `limit` (never buffer more)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"body: larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"body: larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/api/ingest/{source}", summary="Ingest NDJSON events for one source")
async def ingest(
    source: str,
    request: Request,
    settings: AppSettings,
    clock: ClockDep,
    db: DbSession,
    enrich: IngestEnrich,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """200 with `{"accepted", "rejected": [...]}`; 401, 413, 400 (bad source) or 503."""
    try:
        # A database read: in the thread pool, never on the event loop.
        await run_in_threadpool(authenticate, db=db, source=source, authorization=authorization)
        body = await _read_limited(request, settings.ingest_max_body_bytes)
        peer = f"http://{request.client.host if request.client else 'unknown'}"

        def spool_body() -> IngestResult:
            with open_spool(settings) as spool:
                return ingest_ndjson(
                    spool=spool,
                    source=source,
                    body=body,
                    max_line_bytes=settings.ingest_max_line_bytes,
                    received_at=clock.now(),
                    peer=peer,
                    enrich=enrich,
                )

        # The spool is a SQLite file written with a sync: in the thread pool, not on the loop.
        result = await run_in_threadpool(spool_body)
    except UnauthorizedError as exc:
        return JSONResponse({"detail": str(exc)}, 401, headers={"WWW-Authenticate": "Bearer"})
    except PayloadTooLargeError as exc:
        return JSONResponse({"detail": str(exc)}, 413)
    except ValidationError as exc:
        return JSONResponse({"detail": str(exc), "field": exc.field}, 400)
    except SpoolFullError as exc:
        return JSONResponse(
            {"detail": str(exc)}, 503, headers={"Retry-After": str(exc.retry_after)}
        )
    status = 200 if not result.rejected or result.accepted else 400
    return JSONResponse(result.as_dict(), status)
