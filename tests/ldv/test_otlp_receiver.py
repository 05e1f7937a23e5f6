"""OTLP/HTTP receiver: the OpenTelemetry SDK's own exporter against the collector process."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from collectors.spool import open_spool
from core.config import Settings, load_settings
from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from tests.collectors.test_syslog_server import running
from tests.ldv.support import BSN_A, BSN_B, make_token, otlp_json, sdk_spans, subject
from tests.processes import free_port


@pytest.fixture
def ldv_settings(tmp_path: Path) -> Settings:
    return load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        syslog_enabled=False,
        relp_enabled=False,
        ingest_http_port=free_port(),
    )


def _stored(settings: Settings) -> list[dict]:
    with SqliteEventStore(settings.event_db_path) as store:
        return [s.event for s in store.search(EventQuery(limit=1000, order="asc"))]


def test_sdk_protobuf_exporter_round_trip(ldv_settings: Settings) -> None:
    token = make_token(ldv_settings)
    with running(ldv_settings) as ports:
        exporter = OTLPSpanExporter(
            endpoint=f"http://127.0.0.1:{ports['http']}/v1/traces",
            headers={"Authorization": f"Bearer {token}"},
        )
        from opentelemetry.sdk.trace.export import SpanExportResult

        spans = sdk_spans([subject(BSN_A), subject(BSN_B)])
        assert exporter.export(spans) == SpanExportResult.SUCCESS
        with open_spool(ldv_settings) as spool:  # acknowledged means committed
            assert [(c.source, c.parsed) for c in spool.counters()] == [("otlp/brp", 2)]
    events = _stored(ldv_settings)
    assert len(events) == 2  # stored once each
    ids = {(e["trace"]["id"], e["span"]["id"]) for e in events}
    assert ids == {(f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}") for s in spans}
    text = orjson.dumps(events).decode()
    assert BSN_A not in text and BSN_B not in text  # pseudonymised on arrival
    first = events[0]["dijkwacht"]["ldv"]
    assert first["processing_activity_id"].endswith("/brp-inzage/v2")
    assert first["data_subject"]["pseudonym"].startswith("rp_")
    assert events[0]["event"]["dataset"] == "ldv.brp-bevraging"


def test_json_encoding_and_partial_success(ldv_settings: Settings) -> None:
    token = make_token(ldv_settings)
    good = subject(BSN_A)
    no_activity = {"dpl.core.data_subject_id": BSN_B}
    bad_bsn = subject("123456789")
    body = otlp_json(sdk_spans([good, no_activity, bad_bsn]))
    with running(ldv_settings) as ports:
        url = f"http://127.0.0.1:{ports['http']}/v1/traces"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        reply = httpx.post(url, content=orjson.dumps(body), headers=headers)
        assert reply.status_code == 200
        partial = reply.json()["partialSuccess"]
        assert partial["rejectedSpans"] == "2"  # proto3 JSON writes int64 as text
        assert "span 1: dpl.core.processing_activity_id: is required" in partial["errorMessage"]
        assert "span 2: dpl.core.data_subject_id: not a valid BSN" in partial["errorMessage"]
        assert BSN_B not in partial["errorMessage"]
        no_token = httpx.post(url, content=b"{}", headers={"Content-Type": "application/json"})
        assert no_token.status_code == 401
        garbage = httpx.post(
            url, content=b"\xff\x00", headers={**headers, "Content-Type": "application/x-protobuf"}
        )
        assert garbage.status_code == 400
        plain = {**headers, "Content-Type": "text/plain"}
        wrong_type = httpx.post(url, content=b"x", headers=plain)
        assert wrong_type.status_code == 400 and wrong_type.json()["field"] == "Content-Type"
    assert len(_stored(ldv_settings)) == 1
    with SqliteEventStore(ldv_settings.event_db_path) as store:
        letters = store.list_dead_letters(limit=10)
    reasons = sorted(letter.reason for letter in letters)
    assert len(reasons) == 3  # two spans and the undecodable body: nothing is lost
    assert all(BSN_B.encode() not in letter.raw for letter in letters)


def test_protobuf_reply_is_an_export_response(ldv_settings: Settings) -> None:
    token = make_token(ldv_settings)
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    request: ExportTraceServiceRequest = encode_spans(sdk_spans([subject(BSN_A)]))
    with running(ldv_settings) as ports:
        reply = httpx.post(
            f"http://127.0.0.1:{ports['http']}/v1/traces",
            content=request.SerializeToString(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/x-protobuf",
                "Idempotency-Key": "batch-1",
            },
        )
        again = httpx.post(
            f"http://127.0.0.1:{ports['http']}/v1/traces",
            content=request.SerializeToString(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/x-protobuf",
                "Idempotency-Key": "batch-1",
            },
        )
    assert reply.status_code == again.status_code == 200
    assert reply.headers["content-type"] == "application/x-protobuf"
    parsed = ExportTraceServiceResponse.FromString(reply.content)
    assert not parsed.HasField("partial_success")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(_stored(ldv_settings)) == 1


def _ca_signed_pair(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate that is its own CA (urllib3, under the OpenTelemetry exporter,
    verifies strictly: a trust anchor needs CA basic constraints)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_with_the_collectors_tls_pair_otlp_is_tls_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's own `verify`
    # (the exporter's certificate_file): drop them so the exporter trusts exactly our CA.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    cert, key = _ca_signed_pair(tmp_path)
    settings = load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        syslog_enabled=False,
        relp_enabled=False,
        ingest_http_port=free_port(),
        syslog_tls_port=free_port(),
        syslog_tls_cert=cert,
        syslog_tls_key=key,
    )
    token = make_token(settings)
    with running(settings) as ports:
        exporter = OTLPSpanExporter(
            endpoint=f"https://localhost:{ports['http']}/v1/traces",
            headers={"Authorization": f"Bearer {token}"},
            certificate_file=str(cert),
        )
        from opentelemetry.sdk.trace.export import SpanExportResult

        assert exporter.export(sdk_spans([subject(BSN_A)])) == SpanExportResult.SUCCESS
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not answered
            httpx.post(f"http://127.0.0.1:{ports['http']}/v1/traces", content=b"", timeout=3)
    assert len(_stored(settings)) == 1
