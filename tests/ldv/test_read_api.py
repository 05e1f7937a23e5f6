"""The LDV read API end to end: the SDK's exporter into the collector, the read extension's
answer out of the dashboard, checked against the published response shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from sqlalchemy import select

from core.accounts.models import Role
from core.audit import AuditEntry
from core.config import Settings, load_settings
from core.store.relational import migrate
from tests.collectors.test_syslog_server import running
from tests.dashboard.conftest import Env, add_user, login
from tests.ldv.support import ACTIVITY, BSN_A, BSN_B, make_token, otlp_json, sdk_spans, subject
from tests.processes import free_port

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "ldv/schemas/read_api.schema.json").read_text()
)
PATH = "/api/ldv/lezen/v1/processing-activities"
OTHER = "https://register.groningen.nl/verwerkingen/belasting/v1"


def validator(name: str) -> Any:
    return jsonschema_rs.validator_for({"$ref": f"#/$defs/{name}", **SCHEMA})


@pytest.fixture
def ldv_settings(tmp_path: Path) -> Settings:
    return load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        syslog_enabled=False,
        relp_enabled=False,
        ingest_http_port=free_port(),
    )


def _ask(client: Any, body: Any, purpose: str | None = "inzageverzoek AV-1") -> Any:
    params = {"purpose": purpose} if purpose else {}
    return client.post(PATH, json=body, params=params)


def test_round_trip_answers_in_the_published_shape(ldv_settings: Settings) -> None:
    migrate(ldv_settings)
    token = make_token(ldv_settings)
    trace = sdk_spans([subject(BSN_A), subject(BSN_A)], nested=True)
    other = sdk_spans([subject(BSN_A, OTHER), subject(BSN_B)])
    with running(ldv_settings) as ports:
        url = f"http://127.0.0.1:{ports['http']}/v1/traces"
        exporter = OTLPSpanExporter(endpoint=url, headers={"Authorization": f"Bearer {token}"})
        assert exporter.export(trace) == SpanExportResult.SUCCESS
        reply = httpx.post(
            url,
            content=orjson.dumps(otlp_json(other)),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert reply.status_code == 200 and reply.json() == {}  # all accepted
    env = _env(ldv_settings)
    add_user(env, "fg", Role.DPO)
    client = env.client()
    csrf = login(client, "fg")
    client.headers["X-CSRF-Token"] = csrf
    answers = validator("ListProcessingActivities")

    by_subject = _ask(client, {"dpl.core.data_subject_id": BSN_A})
    assert by_subject.status_code == 200, by_subject.text
    assert by_subject.headers["API-Version"] == "1.1.0"
    body = by_subject.json()
    answers.validate(body)
    records = body["processingActivities"]
    assert len(records) == 3  # stored once each
    assert BSN_A not in by_subject.text and BSN_B not in by_subject.text
    assert {r["attributes"]["dpl.core.data_subject_id"] for r in records} == {
        records[0]["attributes"]["dpl.core.data_subject_id"]
    }

    trace_id = f"{trace[0].context.trace_id:032x}"
    parts = (trace_id[:8], trace_id[8:12], trace_id[12:16], trace_id[16:20], trace_id[20:])
    as_uuid = "-".join(parts)
    by_trace = _ask(client, {"traceId": as_uuid}).json()
    answers.validate(by_trace)
    spans = by_trace["processingActivities"]
    assert len(spans) == 2 and {s["traceId"] for s in spans} == {as_uuid}
    child = next(s for s in spans if "parentSpanId" in s)
    assert child["parentSpanId"] in {s["spanId"] for s in spans}
    assert all(s["status"] == "Ok" for s in spans)

    by_activity = _ask(client, {"dpl.core.processing_activity_id": OTHER}).json()
    assert len(by_activity["processingActivities"]) == 1
    narrowed = _ask(client, {"dpl.core.data_subject_id": BSN_A, "startTime": 4_102_444_800_000})
    assert narrowed.json() == {"processingActivities": []}

    problems = validator("Problem")
    for bad in ({}, {"startTime": 1}, None, {"dpl.core.data_subject_id": "123456789"}):
        refused = _ask(client, bad)
        assert refused.status_code == 400, bad
        assert refused.headers["content-type"].startswith("application/problem+json")
        problems.validate(refused.json())
    assert "123456789" not in refused.text
    no_purpose = _ask(client, {"dpl.core.data_subject_id": BSN_A}, purpose=None)
    assert no_purpose.status_code == 400 and no_purpose.json()["field"] == "purpose"

    reads = env.db.scalars(select(AuditEntry).where(AuditEntry.object_type == "ldv_records"))
    audited = [r for r in reads if r.details.get("subject_pseudonyms")]
    assert audited and audited[0].purpose == "inzageverzoek AV-1"
    assert (
        records[0]["attributes"]["dpl.core.data_subject_id"]
        in audited[0].details["subject_pseudonyms"]
    )


def _env(settings: Settings) -> Env:
    from datetime import UTC, datetime

    from core.clock import FrozenClock
    from core.store.relational import create_db_engine, create_session_factory
    from dashboard.app import create_app

    app = create_app(settings)
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    app.state.clock = clock
    sessions = create_session_factory(create_db_engine(settings))
    return Env(settings, app, clock, sessions(), sessions)


def test_a_token_needs_the_read_ldv_scope(ldv_settings: Settings) -> None:
    from core.accounts.tokens import create_token
    from core.store.unit_of_work import unit_of_work

    migrate(ldv_settings)
    env = _env(ldv_settings)
    add_user(env, "fg", Role.DPO)
    with unit_of_work(env.sessions) as db:
        good = create_token(
            db=db, username="fg", name="ldv", scopes=["read:ldv"], clock=env.clock, actor="t"
        ).token
        other = create_token(
            db=db, username="fg", name="x", scopes=["read:events"], clock=env.clock, actor="t"
        ).token
    client = env.client()
    body = {"dpl.core.processing_activity_id": ACTIVITY}

    def status(token: str | None) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return int(client.post(PATH, json=body, headers=headers).status_code)

    assert (status(good), status(other), status(None)) == (200, 403, 401)
