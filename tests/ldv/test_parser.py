"""The `ldv` JSON-lines parser and the record checks OTLP shares; enrichment of LDV events."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.context import load_context
from collectors.enrichment import enrich
from collectors.parsers import ParseError, get_parser
from core.privacy.service import PrivacyError, Pseudonymiser
from tests.collectors.support import assert_ecs
from tests.ldv.support import ACTIVITY, BSN_A, BSN_B

KEY = b"k" * 32
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
PARTNER = "https://wij.groningen.nl"


def record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "name": "raadpleeg persoonslijst",
        "start_time": 1_764_068_470_669,
        "end_time": 1_764_068_470_702,
        "status_code": 1,
        "resource": {"attributes": {"service.name": "brp-bevraging"}},
        "attributes": {
            "dpl.core.processing_activity_id": ACTIVITY,
            "dpl.core.data_subject_id": BSN_A,
            "dpl.core.data_subject_id_type": "BSN",
        },
    }
    base.update(changes)
    return base


def parse(value: dict[str, Any]) -> dict[str, Any]:
    parser = get_parser("ldv", pseudonymiser=Pseudonymiser(KEY))
    return parser.parse(orjson.dumps(value) + b"\n", received_at=NOW, source="file:/ldv.jsonl")


def test_a_record_becomes_a_documented_ecs_event() -> None:
    users = [{"userID": "E17", "roleIDCode": "klantadviseur", "purposeOfUse": "zaak Z-1"}]
    attrs = {**record()["attributes"], "dpl.nen7513.users": users}
    foreign = {"trace_id": "a" * 32, "span_id": "b" * 16, "entity": PARTNER}
    event = assert_ecs(parse(record(attributes=attrs, foreign_operation=foreign)))
    ldv = event["dijkwacht"]["ldv"]
    pseudonym = Pseudonymiser(KEY).pseudonym(BSN_A)
    assert ldv["data_subject"] == {"pseudonym": pseudonym, "id_type": "BSN"}
    assert event["dijkwacht"]["subject"]["pseudonym"] == pseudonym  # as app audit: correlates
    assert BSN_A not in event["event"]["original"]
    assert event["@timestamp"] == "2025-11-25T11:01:10.669Z"
    assert event["event"]["duration"] == 33_000_000
    assert event["event"]["outcome"] == "success"
    assert ldv["foreign_operation"]["entity"] == PARTNER
    assert event["user"] == {"id": "E17", "roles": ["klantadviseur"]}
    assert event["dijkwacht"]["case"]["purpose"] == "zaak Z-1"
    assert ldv["bulk"] is False and ldv["subject_count"] == 1


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"trace_id": "xyz"}, "trace_id", "16 bytes"),
        ({"trace_id": "0" * 32}, "trace_id", "all zeros"),
        ({"span_id": "abc"}, "span_id", "8 bytes"),
        ({"name": ""}, "name", "non-empty"),
        ({"end_time": 1}, "end_time", "before start_time"),
        ({"status_code": 7}, "status_code", "0 (unset)"),
        ({"start_time": "soon"}, "start_time", "milliseconds"),
        ({"attributes": {}}, "dpl.core.processing_activity_id", "is required"),
        ({"attributes": {"dpl.core.processing_activity_id": "va-12"}},
         "dpl.core.processing_activity_id", "absolute URI"),
        ({"foreign_operation": {"trace_id": "a" * 32, "span_id": "b" * 16, "entity": "wij"}},
         "foreign_operation.entity", "absolute URI"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)  # fmt: skip
def test_bad_fields_are_named(change: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(record(**change))
    assert caught.value.field == field
    assert problem in caught.value.reason


def test_a_bad_bsn_is_refused_without_quoting_it() -> None:
    attrs = {"dpl.core.processing_activity_id": ACTIVITY, "dpl.core.data_subject_id": "123456789"}
    with pytest.raises(ParseError) as caught:
        parse(record(attributes=attrs))
    assert caught.value.field == "dpl.core.data_subject_id"
    assert "123456789" not in str(caught.value)


def test_many_subjects_in_one_record_is_kept_as_bulk() -> None:
    attrs = {
        "dpl.core.processing_activity_id": ACTIVITY,
        "dpl.core.data_subject_id": [BSN_A, BSN_B],
    }
    event = assert_ecs(parse(record(attributes=attrs)))
    ldv = event["dijkwacht"]["ldv"]
    assert ldv["bulk"] is True and ldv["subject_count"] == 2
    assert len(ldv["data_subject"]["pseudonyms"]) == 2
    assert "subject" not in event["dijkwacht"]  # no single resident to attribute it to
    counted = {"dpl.core.processing_activity_id": ACTIVITY, "app.record_count": 400}
    assert parse(record(attributes=counted))["dijkwacht"]["ldv"]["subject_count"] == 400


def test_other_id_types_get_their_own_pseudonyms() -> None:
    pseudonymiser = Pseudonymiser(KEY)
    staff = pseudonymiser.identifier("123456789", id_type="personeelsnummer")
    assert staff != pseudonymiser.identifier("123456789", id_type="vnummer")
    assert staff.startswith("rp_") and len(staff) == 35
    assert pseudonymiser.identifier(BSN_A, id_type=None) == pseudonymiser.pseudonym(BSN_A)
    with pytest.raises(PrivacyError, match="data_subject_id_type"):
        pseudonymiser.identifier("E-123", id_type=None)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(record())),
        st.none() | st.integers(-(2**63), 2**63 - 1) | st.text() | st.lists(st.text(), max_size=3),
    )
)
def test_arbitrary_field_values_never_crash(changes: dict[str, Any]) -> None:
    with contextlib.suppress(ParseError):
        assert_ecs(parse(record(**changes)))


def _context(tmp_path: Path) -> Any:
    (tmp_path / "ldv_activities.csv").write_text(
        "uri,retired,requires_subject\n"
        f"{ACTIVITY},false,true\n"
        "https://register.groningen.nl/verwerkingen/brp-inzage/v1,true,true\n"
        "https://register.groningen.nl/verwerkingen/statistiek/v1,false,false\n"
    )
    (tmp_path / "ldv_partners.csv").write_text(
        f"entity,name,activity\n{PARTNER},WIJ Groningen,{ACTIVITY}\n"
    )
    (tmp_path / "cases.csv").write_text(f"case_ref,employee,bsn,status\nZ-1,E17,{BSN_A},open\n")
    return load_context(directory=tmp_path, key=KEY)


def _attrs(activity: str = ACTIVITY, bsn: str | None = BSN_A, **extra: object) -> dict[str, Any]:
    values: dict[str, Any] = {"dpl.core.processing_activity_id": activity, **extra}
    if bsn is not None:
        values["dpl.core.data_subject_id"] = bsn
    return values


def test_enrichment_answers_the_register_and_partner_questions(tmp_path: Path) -> None:
    context = _context(tmp_path)

    def ldv_of(**changes: Any) -> dict[str, Any]:
        return assert_ecs(enrich(parse(record(**changes)), context))["dijkwacht"]

    good = ldv_of()["ldv"]
    assert good["activity"] == {"registered": True, "retired": False, "requires_subject": True}
    assert good["subject_missing"] is False
    assert ldv_of(attributes=_attrs("https://elders.nl/va/9"))["ldv"]["activity"] == {
        "registered": False
    }
    retired = ldv_of(attributes=_attrs("https://register.groningen.nl/verwerkingen/brp-inzage/v1"))
    assert retired["ldv"]["activity"]["retired"] is True
    assert ldv_of(attributes=_attrs(bsn=None))["ldv"]["subject_missing"] is True
    statistics = _attrs("https://register.groningen.nl/verwerkingen/statistiek/v1", bsn=None)
    assert ldv_of(attributes=statistics)["ldv"]["subject_missing"] is False
    foreign = {"trace_id": "a" * 32, "span_id": "b" * 16, "entity": PARTNER}
    agreed = ldv_of(foreign_operation=foreign)["ldv"]["partner"]
    assert agreed == {"name": "WIJ Groningen", "agreed": True}
    outside = ldv_of(
        foreign_operation=foreign,
        attributes=_attrs("https://register.groningen.nl/verwerkingen/statistiek/v1"),
    )
    assert outside["ldv"]["partner"]["agreed"] is False
    stranger = ldv_of(foreign_operation={**foreign, "entity": "https://onbekend.nl"})
    assert stranger["ldv"]["partner"] == {"agreed": False}
    users = [{"userID": "E17", "roleIDCode": "klantadviseur"}]
    with_case = ldv_of(attributes={**_attrs(), "dpl.nen7513.users": users})
    assert with_case["case"]["open_for_subject"] is True
    without = ldv_of(attributes={**_attrs(bsn=BSN_B), "dpl.nen7513.users": users})
    assert without["case"]["open_for_subject"] is False
