"""HTTP batch ingest served by the collector process, on its own port.

The dashboard's uvicorn process used to serve `POST /api/ingest/{source}` next to the pages, so
dashboard load starved ingest. Here a small Starlette app runs on the collector's event loop
(`uvicorn.Server.serve` as a task, `ingest_http_port`), and token checks, parsing and spool
commits run on one worker thread that owns its own spool connection, so neither the loop (which
also serves syslog and RELP) nor the dashboard is blocked or can block it.

Contract (same shape as the old route): 200 `{"accepted", "rejected": [{line, field,
reason}]}` only after the spool commit (400 when every line was refused), 401 no, unknown,
revoked or expired token, 403 a token without the `ingest` scope or bound to another source, 413
body over `ingest_max_body_bytes`, 400 bad source or `Idempotency-Key`, 422 a key reused for
another body, 503 + `Retry-After` when the spool is full or the collector is paused. A replayed
reply carries `Idempotent-Replayed: true`.

`POST /v1/traces` is OTLP/HTTP for Logboek Dataverwerkingen records (`collectors.otlp`): the
token alone names the source, the reply is an `ExportTraceServiceResponse` in the request's
encoding (partial success for rejected spans), sent after the spool commit. With
`syslog_tls_cert` and `syslog_tls_key` set, this server speaks TLS only (the standard requires
TLS towards the logbook).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

import uvicorn
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from collectors.http_ingest import (
    IDEMPOTENCY_HEADER,
    RETRY_AFTER_SECONDS,
    ForbiddenError,
    IngestResult,
    KeyReusedError,
    PayloadTooLargeError,
    SpoolFullError,
    UnauthorizedError,
    authenticate,
    ingest_ndjson,
    token_source,
)
from collectors.otlp import OtlpResult, encode_response, ingest_otlp, media_type
from collectors.parsers.ldv import LdvRecordMapper
from collectors.spool import Spool, open_spool
from core.accounts.tokens import TokenIdentity, touch_token
from core.clock import Clock, SystemClock
from core.config import Settings
from core.errors import ConfigError, ValidationError
from core.privacy.service import Pseudonymiser
from core.store.relational import create_db_engine, create_session_factory
from core.store.unit_of_work import is_locked_error, unit_of_work

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from collectors.hooks import EnrichFn

INGEST_PATH = "/api/ingest/{source}"
OTLP_TRACES_PATH = "/v1/traces"
GRACEFUL_SHUTDOWN_SECONDS = 5
T = TypeVar("T")
_log = logging.getLogger(__name__)


async def read_limited(request: Request, limit: int) -> bytes:
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


class IngestWorker:
    """One thread that owns a spool connection (SQLite connections stay in their thread)."""

    def __init__(self, *, settings: Settings, enrich: EnrichFn | None, clock: Clock) -> None:
        self.settings = settings
        self.enrich = enrich
        self.clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="http-ingest")
        self._spool: Spool | None = None
        self._engine: Engine | None = None
        self._mapper: LdvRecordMapper | None = None

    async def authenticate(self, source: str, authorization: str | None) -> None:
        await self._run(lambda: self._authenticate(source, authorization))

    async def ingest(self, *, source: str, body: bytes, peer: str, key: str | None) -> IngestResult:
        settings = self.settings

        def work() -> IngestResult:
            return ingest_ndjson(
                spool=self._open_spool(),
                source=source,
                body=body,
                max_line_bytes=settings.ingest_max_line_bytes,
                received_at=self.clock.now(),
                peer=peer,
                enrich=self.enrich,
                idempotency_key=key,
                key_ttl=timedelta(hours=settings.ingest_idempotency_hours),
            )

        return await self._run(work)

    async def token_source(self, authorization: str | None) -> str:
        return await self._run(lambda: self._token_source(authorization))

    async def ingest_otlp(
        self, *, source: str, body: bytes, content_type: str, peer: str, key: str | None
    ) -> OtlpResult:
        settings = self.settings

        def work() -> OtlpResult:
            return ingest_otlp(
                spool=self._open_spool(),
                source=source,
                body=body,
                content_type=content_type,
                mapper=self._ldv_mapper(),
                received_at=self.clock.now(),
                peer=peer,
                enrich=self.enrich,
                idempotency_key=key,
                key_ttl=timedelta(hours=settings.ingest_idempotency_hours),
            )

        return await self._run(work)

    def _ldv_mapper(self) -> LdvRecordMapper:
        if self._mapper is None:
            key = self.settings.secret("pseudonym_key").encode("utf-8")
            self._mapper = LdvRecordMapper(pseudonymiser=Pseudonymiser(key))
        return self._mapper

    def _token_source(self, authorization: str | None) -> str:
        factory = self._factory()
        with unit_of_work(factory, write=False) as db:
            identity = token_source(db=db, authorization=authorization, clock=self.clock)
        self._touch(identity)
        assert identity.source is not None  # token_source refuses an unbound token
        return identity.source

    def _factory(self) -> sessionmaker[Session]:
        if self._engine is None:
            self._engine = create_db_engine(self.settings)
        return create_session_factory(self._engine)

    def _touch(self, identity: TokenIdentity) -> None:
        """`last_used_at`, at most once a minute per token; a busy database skips it."""
        if not identity.touch_due:
            return
        try:
            with unit_of_work(self._factory()) as db:
                touch_token(db=db, token_id=identity.token_id, clock=self.clock)
        except OperationalError as exc:
            if not is_locked_error(exc):
                raise
            _log.warning("token last-used update skipped: database busy")

    def close(self) -> None:
        """Finish queued work, then close the spool and the token database in their thread."""
        self._executor.submit(self._close_resources).result()
        self._executor.shutdown(wait=True)

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def _open_spool(self) -> Spool:
        if self._spool is None:
            self._spool = open_spool(self.settings)
        return self._spool

    def _authenticate(self, source: str, authorization: str | None) -> None:
        with unit_of_work(self._factory(), write=False) as db:
            identity = authenticate(
                db=db, source=source, authorization=authorization, clock=self.clock
            )
        self._touch(identity)

    def _close_resources(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def create_ingest_app(
    *, worker: IngestWorker, paused: Callable[[], bool] = lambda: False
) -> Starlette:
    """The collector's ingest app; `paused` says the collector takes no input now (503)."""
    limit = worker.settings.ingest_max_body_bytes

    async def ingest(request: Request) -> JSONResponse:
        source = request.path_params["source"]
        key = request.headers.get(IDEMPOTENCY_HEADER)
        try:
            await worker.authenticate(source, request.headers.get("authorization"))
            if paused():
                return JSONResponse(
                    {"detail": "the collector is paused after a fault; retry later"},
                    503,
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
            body = await read_limited(request, limit)
            peer = request.client.host if request.client else "unknown"
            result = await worker.ingest(source=source, body=body, peer=f"http://{peer}", key=key)
        except UnauthorizedError as exc:
            return JSONResponse({"detail": str(exc)}, 401, headers={"WWW-Authenticate": "Bearer"})
        except ForbiddenError as exc:
            return JSONResponse({"detail": str(exc)}, 403)
        except PayloadTooLargeError as exc:
            return JSONResponse({"detail": str(exc)}, 413)
        except KeyReusedError as exc:
            return JSONResponse({"detail": str(exc), "field": exc.field}, 422)
        except ValidationError as exc:
            return JSONResponse({"detail": str(exc), "field": exc.field}, 400)
        except SpoolFullError as exc:
            return JSONResponse(
                {"detail": str(exc)}, 503, headers={"Retry-After": str(exc.retry_after)}
            )
        status = 200 if not result.rejected or result.accepted else 400
        headers = {"Idempotent-Replayed": "true"} if result.replayed else None
        return JSONResponse(result.as_dict(), status, headers=headers)

    async def traces(request: Request) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        try:
            kind = media_type(request.headers.get("content-type"))
            source = await worker.token_source(request.headers.get("authorization"))
            if paused():
                return JSONResponse(
                    {"detail": "the collector is paused after a fault; retry later"},
                    503,
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
            body = await read_limited(request, limit)
            peer = request.client.host if request.client else "unknown"
            result = await worker.ingest_otlp(
                source=source, body=body, content_type=kind, peer=f"otlp://{peer}", key=key
            )
        except UnauthorizedError as exc:
            return JSONResponse({"detail": str(exc)}, 401, headers={"WWW-Authenticate": "Bearer"})
        except ForbiddenError as exc:
            return JSONResponse({"detail": str(exc)}, 403)
        except PayloadTooLargeError as exc:
            return JSONResponse({"detail": str(exc)}, 413)
        except KeyReusedError as exc:
            return JSONResponse({"detail": str(exc), "field": exc.field}, 422)
        except ValidationError as exc:
            return JSONResponse({"detail": str(exc), "field": exc.field}, 400)
        except SpoolFullError as exc:
            return JSONResponse(
                {"detail": str(exc)}, 503, headers={"Retry-After": str(exc.retry_after)}
            )
        headers = {"Idempotent-Replayed": "true"} if result.replayed else None
        return Response(encode_response(result, kind), 200, media_type=kind, headers=headers)

    async def livez(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "paused": paused()})

    return Starlette(
        routes=[
            Route(INGEST_PATH, ingest, methods=["POST"]),
            Route(OTLP_TRACES_PATH, traces, methods=["POST"]),
            Route("/livez", livez, methods=["GET"]),
        ]
    )


class _LoopServer(uvicorn.Server):
    """uvicorn on a loop it does not own: the collector handles SIGINT/SIGTERM itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpIngestServer:
    """Binds `ingest_http_host:ingest_http_port` and serves the ingest app on this loop."""

    def __init__(
        self,
        *,
        settings: Settings,
        enrich: EnrichFn | None,
        paused: Callable[[], bool] = lambda: False,
        clock: Clock | None = None,
    ) -> None:
        self.worker = IngestWorker(settings=settings, enrich=enrich, clock=clock or SystemClock())
        self._paused = paused
        self._socket: socket.socket | None = None
        self._server: _LoopServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self) -> None:
        """Bind first: an address in use is a ConfigError naming the setting, not a sys.exit
        inside uvicorn."""
        settings = self.worker.settings
        family = socket.AF_INET6 if ":" in settings.ingest_http_host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((settings.ingest_http_host, settings.ingest_http_port))
            sock.listen(512)
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"ingest_http_port: cannot listen on "
                f"{settings.ingest_http_host}:{settings.ingest_http_port} ({exc.strerror})"
            ) from exc
        sock.setblocking(False)
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            create_ingest_app(worker=self.worker, paused=self._paused),
            lifespan="off",
            access_log=False,
            log_config=None,  # the collector's logging stays as `dijkwacht collect` set it
            log_level="warning",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            # The collector's TLS pair (as for syslog and RELP): LDV requires TLS to the logbook.
            ssl_certfile=str(settings.syslog_tls_cert) if settings.syslog_tls_cert else None,
            ssl_keyfile=str(settings.syslog_tls_key) if settings.syslog_tls_key else None,
        )
        self._server = _LoopServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError("HTTP ingest server stopped during start-up")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Finish in-flight requests (each is committed or not answered), then release."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        if self._socket is not None:
            self._socket.close()
        await asyncio.get_running_loop().run_in_executor(None, self.worker.close)
