"""Who may send events: the `ingest` scope and the source binding on HTTP ingest and OTLP,
revoked and expired tokens refused with the reason, and each token's use on the record.
Real HTTP against the collector's ingest app (as tests/collectors/test_http_ingest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient as StarletteClient

from collectors.http_server import IngestWorker, create_ingest_app
from core.accounts import Role, create_user
from core.accounts.auth_models import ApiToken
from core.accounts.tokens import create_token, revoke_token
from core.audit import AuditEntry
from core.clock import FrozenClock
from core.config import Settings, load_settings
from core.store.relational import create_db_engine, create_session_factory
from core.store.unit_of_work import unit_of_work
from tests.ldv.support import BSN_A, otlp_json, sdk_spans, subject
from tests.tokens import make_ingest_token

ECS = {"@timestamp": "2026-12-01T09:15:00Z", "event": {"kind": "event", "dataset": "zs"}}
PASSWORD = "rivierdijk-hoogwater-2026"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(environment="test", data_dir=tmp_path / "data")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def client(settings: Settings, clock: FrozenClock) -> Iterator[StarletteClient]:
    make_ingest_token(settings, "warm-up")  # migrated, like a collector after `up`
    worker = IngestWorker(settings=settings, enrich=None, clock=clock)
    try:
        with StarletteClient(create_ingest_app(worker=worker)) as test_client:
            yield test_client
    finally:
        worker.close()


def _ndjson(client: StarletteClient, token: str, source: str = "zaaksysteem") -> tuple[int, str]:
    reply = client.post(
        f"/api/ingest/{source}",
        content=orjson.dumps(ECS),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )
    return reply.status_code, reply.json().get("detail", "")


def _otlp(client: StarletteClient, token: str) -> tuple[int, str]:
    reply = client.post(
        "/v1/traces",
        content=orjson.dumps(otlp_json(sdk_spans([subject(BSN_A)]))),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    detail = reply.json().get("detail", "") if reply.status_code != 200 else ""
    return reply.status_code, detail


def test_only_ingest_tokens_send_events(client: StarletteClient, settings: Settings) -> None:
    engine = create_db_engine(settings)
    with unit_of_work(create_session_factory(engine)) as db:
        create_user(db=db, username="ana", password=PASSWORD, role=Role.ANALYST,
                    clock=FrozenClock(datetime.now(UTC)))  # fmt: skip
    engine.dispose()
    reader = make_ingest_token(settings, None, scopes=["read:alerts"], username="ana")
    assert _ndjson(client, reader) == (403, "this token lacks the 'ingest' scope")
    assert _otlp(client, reader) == (403, "this token lacks the 'ingest' scope")

    bound = make_ingest_token(settings, "brp")
    assert _otlp(client, bound) == (200, "")
    assert _ndjson(client, bound, source="brp")[0] == 200
    assert _ndjson(client, bound, source="zaaksysteem") == (
        403,
        "this token is bound to source 'brp', not 'zaaksysteem'",
    )

    unbound = make_ingest_token(settings, None, username="ana")
    assert _ndjson(client, unbound, source="anything")[0] == 200
    status, detail = _otlp(client, unbound)
    assert status == 403 and "bound to no source" in detail


def test_revoked_and_expired_tokens_get_401_with_the_reason(
    client: StarletteClient, settings: Settings, clock: FrozenClock
) -> None:
    engine = create_db_engine(settings)
    factory = create_session_factory(engine)
    with unit_of_work(factory) as db:
        short = create_token(
            db=db, username=None, name="zs", scopes=["ingest"], source="zaaksysteem",
            clock=clock, actor="t", expires_in=timedelta(hours=1),
        )  # fmt: skip
        doomed = create_token(
            db=db, username=None, name="zs", scopes=["ingest"], source="zaaksysteem",
            clock=clock, actor="t",
        )  # fmt: skip
    assert _ndjson(client, doomed.token)[0] == 200
    with unit_of_work(factory) as db:
        revoke_token(db=db, token_id=doomed.id, clock=clock, actor="root")
    engine.dispose()
    status, detail = _ndjson(client, doomed.token)
    assert status == 401 and f"token {doomed.id} was revoked at" in detail
    assert doomed.token not in detail
    assert _otlp(client, doomed.token)[0] == 401
    assert _ndjson(client, short.token)[0] == 200
    clock.advance(timedelta(hours=1))
    status, detail = _ndjson(client, short.token)
    assert status == 401 and f"token {short.id} expired at" in detail
    assert _ndjson(client, "dkw_0_guess") == (401, "Authorization: unknown token")


def test_use_is_recorded(client: StarletteClient, settings: Settings, clock: FrozenClock) -> None:
    token = make_ingest_token(settings, "zaaksysteem")
    for _ in range(3):
        assert _ndjson(client, token)[0] == 200
        clock.advance(timedelta(seconds=45))
    engine = create_db_engine(settings)
    with create_session_factory(engine)() as db:
        row = db.scalars(select(ApiToken).where(ApiToken.source == "zaaksysteem")).one()
        actions = db.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "api_token", AuditEntry.object_id == str(row.id))
            .order_by(AuditEntry.seq)
        ).all()
    engine.dispose()
    assert actions == ["token.created", "token.first_used"]
    # touched at the first post and again once a minute had passed (the third, at +90 s)
    assert row.last_used_at == clock.now() - timedelta(seconds=45)
