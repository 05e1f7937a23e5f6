"""Municipal app audit records: validation, mapping, and no BSN anywhere in the output."""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.parsers import AppAuditParser, HeaderRow, ParseError, get_parser
from collectors.parsers.app_audit import FIELDS
from core.errors import ConfigError
from core.privacy.service import Pseudonymiser
from tests.collectors.support import assert_ecs
from tests.core.privacy.test_pseudonyms import valid_bsns

RECEIVED = datetime(2025, 2, 1, tzinfo=UTC)
PSEUDONYMISER = Pseudonymiser(b"test-key-for-pseudonyms-0123456789")
BSN = "111222333"
RECORD: dict[str, Any] = {
    "time": "2025-01-31T09:15:00+01:00",
    "system": "brp",
    "actor": "E12345",
    "actor_role": "medewerker-burgerzaken",
    "department": "Burgerzaken",
    "action": "view",
    "subject": BSN,
    "record_type": "persoonslijst",
    "purpose": "aanvraag paspoort",
    "case_ref": "Z-2025-0042",
    "channel": "balie",
    "result": "success",
    "record_count": 1,
}


def _json(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)


def _csv(record: dict[str, Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([record.get(name, "") for name in FIELDS])
    return out.getvalue().encode()


def _parse(raw: bytes, fmt: str = "json") -> dict[str, Any]:
    parser = get_parser(f"app-audit-{fmt}", pseudonymiser=PSEUDONYMISER)
    return assert_ecs(parser.parse(raw, received_at=RECEIVED, source="file:audit.log"))


@pytest.mark.parametrize(("fmt", "encode"), [("json", _json), ("csv", _csv)])
def test_mapping(fmt: str, encode: Any) -> None:
    event = _parse(encode(RECORD), fmt)
    pseudonym = PSEUDONYMISER.pseudonym(BSN)
    assert event["@timestamp"] == "2025-01-31T08:15:00.000Z"
    assert event["event"]["dataset"] == "app_audit.brp"
    assert event["event"]["category"] == ["database"]
    assert event["event"]["type"] == ["access"]
    assert event["event"]["action"] == "view"
    assert event["event"]["outcome"] == "success"
    assert event["user"] == {"id": "E12345", "roles": ["medewerker-burgerzaken"]}
    assert event["dijkwacht"]["subject"] == {"pseudonym": pseudonym, "record_type": "persoonslijst"}
    assert event["dijkwacht"]["case"] == {
        "reference": "Z-2025-0042",
        "purpose": "aanvraag paspoort",
    }
    assert event["dijkwacht"]["actor"] == {"department": "Burgerzaken"}
    assert event["dijkwacht"]["channel"] == "balie"
    assert event["dijkwacht"]["record_count"] == 1
    assert pseudonym in event["event"]["original"]
    assert BSN not in orjson.dumps(event).decode()


def test_denied_and_minimal_record() -> None:
    minimal = {k: RECORD[k] for k in ("time", "system", "actor", "action", "result")}
    event = _parse(_json({**minimal, "action": "delete", "result": "denied"}))
    assert event["event"]["outcome"] == "failure"
    assert event["event"]["reason"] == "access denied"
    assert event["event"]["type"] == ["change"]
    assert "subject" not in event.get("dijkwacht", {})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subject": "123456789"}, "subject"),
        ({"subject": "12345678"}, "subject"),
        ({"subject": 111222333}, "subject"),
        ({"action": "read"}, "action"),
        ({"result": "ok"}, "result"),
        ({"time": "2025-01-31 09:15"}, "time"),
        ({"time": "2025-01-31T09:15:00"}, "time"),
        ({"time": "2025-02-30T09:15:00Z"}, "time"),
        ({"system": "BRP!"}, "system"),
        ({"actor": ""}, "actor"),
        ({"record_count": -1}, "record_count"),
        ({"record_count": True}, "record_count"),
        ({"purpose": "a\nb"}, "purpose"),
        ({"extra": "x"}, "extra"),
    ],
)
def test_each_field_is_validated(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ParseError) as error:
        _parse(_json({**RECORD, **change}))
    assert error.value.field == field
    assert BSN not in str(error.value)


def test_csv_header_and_column_count() -> None:
    parser = AppAuditParser(pseudonymiser=PSEUDONYMISER, fmt="csv")
    with pytest.raises(HeaderRow):
        parser.parse(",".join(FIELDS).encode(), received_at=RECEIVED, source="t")
    with pytest.raises(ParseError):
        parser.parse(b"2025-01-31T09:15:00Z,brp", received_at=RECEIVED, source="t")
    with pytest.raises(ParseError):
        parser.parse(b'"unterminated', received_at=RECEIVED, source="t")


def test_bsn_in_free_text_and_redacted_dead_letters() -> None:
    other = "123456782"
    event = _parse(_json({**RECORD, "purpose": f"verzoek over {other}"}))
    assert other not in orjson.dumps(event).decode()
    assert PSEUDONYMISER.pseudonym(other) in event["dijkwacht"]["case"]["purpose"]
    parser = AppAuditParser(pseudonymiser=PSEUDONYMISER)
    assert BSN.encode() not in parser.redact(_json({**RECORD, "action": "bad"}))


def test_parser_needs_a_pseudonymiser() -> None:
    with pytest.raises(ConfigError):
        get_parser("app-audit-json")


_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40)


@settings(max_examples=300)
@given(
    bsn=valid_bsns(),
    fmt=st.sampled_from(["json", "csv"]),
    purpose=_text,
    department=_text,
    case_ref=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/:-]{0,20}", fullmatch=True),
)
def test_bsn_never_appears_in_the_serialised_event(
    bsn: str, fmt: str, purpose: str, department: str, case_ref: str
) -> None:
    record = {
        **RECORD,
        "subject": bsn,
        "purpose": f"{purpose} {bsn}",
        "department": department,
        "case_ref": case_ref,
    }
    encode = _json if fmt == "json" else _csv
    try:
        event = _parse(encode(record), fmt)
    except ParseError as error:
        assert bsn not in str(error)
        return
    assert bsn not in orjson.dumps(event).decode()
    assert event["dijkwacht"]["subject"]["pseudonym"] == PSEUDONYMISER.pseudonym(bsn)


@settings(max_examples=300)
@given(st.binary(max_size=300), st.sampled_from(["json", "csv"]))
def test_arbitrary_bytes_only_raise_parse_error(raw: bytes, fmt: str) -> None:
    with contextlib.suppress(ParseError):
        _parse(raw, fmt)


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(FIELDS), st.none() | st.integers(-(2**63), 2**63 - 1) | _text, max_size=13
    )
)
def test_arbitrary_records_only_raise_parse_error(record: dict[str, Any]) -> None:
    with contextlib.suppress(ParseError):
        _parse(_json(record))
