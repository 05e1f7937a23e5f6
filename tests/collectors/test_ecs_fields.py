"""The field check itself, and the extension document it relies on."""

from __future__ import annotations

from tests.collectors.support import extension_fields, undocumented_fields


def test_extension_doc_lists_the_fields_the_parsers_write() -> None:
    documented = extension_fields()
    for field in (
        "dijkwacht.ingest.source",
        "dijkwacht.original_base64",
        "dijkwacht.json",
        "dijkwacht.actor.department",
        "dijkwacht.subject.pseudonym",
        "dijkwacht.subject.record_type",
        "dijkwacht.case.reference",
        "dijkwacht.case.purpose",
        "dijkwacht.channel",
        "dijkwacht.record_count",
    ):
        assert field in documented
    assert documented["dijkwacht.json"] == "flattened"


def test_check_rejects_unknown_fields() -> None:
    event = {
        "@timestamp": "2025-01-01T00:00:00.000Z",
        "event": {"kind": "event", "dataset": "x", "original": "x"},
        "source": {"ipaddr": "1.2.3.4"},
        "dijkwacht": {"secret": 1, "json": {"any": {"thing": 1}}},
        "log": {"syslog": {"structured_data": {"a@1": {"b": "c"}}}},
    }
    assert undocumented_fields(event) == ["source.ipaddr", "dijkwacht.secret"]
