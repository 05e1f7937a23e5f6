"""Sharing back: an incident's observables as STIX 2.1 (validated with stix2-validator) or a
MISP event; never from an exercise, never a resident's identifier (property-tested)."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymisp import MISPEvent
from sqlalchemy.orm import Session, sessionmaker
from stix2validator import ValidationOptions, validate_string

from core.clock import FrozenClock
from core.errors import ValidationError
from core.privacy.pseudonyms import is_valid_bsn
from core.privacy.service import Pseudonymiser
from core.store.unit_of_work import unit_of_work
from intel import service
from intel.sharing import stix_bundle, withheld_reason
from playbooks import service as playbooks
from tests.intel.conftest import NOW

BSN = "111222333"  # passes the 11-test
PSEUDONYM = Pseudonymiser(b"k" * 32).pseudonym(BSN)


def _valid(bundle: str) -> None:
    results = validate_string(bundle, ValidationOptions(version="2.1", strict=True))
    assert results.is_valid, [str(e) for e in results.errors]


@pytest.fixture
def incident(sessions: sessionmaker[Session], clock: FrozenClock) -> Iterator[int]:
    assert is_valid_bsn(BSN)
    with unit_of_work(sessions) as db:
        created = playbooks.create_incident(
            db=db,
            clock=clock,
            title=f"Jan Jansen viewed record of {BSN}",
            severity="high",
            actor="analyst",
        )
        for kind, value in [
            ("ip", "185.220.101.7"),
            ("ip", "10.1.2.3"),
            ("domain", "evil.example"),
            ("hash", "b" * 64),
            ("user", "jjansen"),
            ("host", "ws-0042"),
            ("pseudonym", PSEUDONYM),
        ]:
            playbooks.add_observable(
                db=db, clock=clock, incident_id=created.id, kind=kind, value=value, actor="a"
            )
        incident_id = created.id
    yield incident_id


def _export(sessions: sessionmaker[Session], clock: FrozenClock, incident_id: int, fmt: str):
    with unit_of_work(sessions) as db:
        return service.export_incident(
            db=db,
            clock=clock,
            incident_id=incident_id,
            fmt=fmt,
            tlp="amber",
            organisation="Gemeente Groningen",
            actor="analyst",
        )


def test_stix_export_validates_and_carries_no_resident_identifiers(
    sessions: sessionmaker[Session], clock: FrozenClock, incident: int
) -> None:
    export = _export(sessions, clock, incident, "stix")
    _valid(export.content)
    assert export.shared == 3
    assert sum(export.withheld.values()) == 4
    for secret in (BSN, PSEUDONYM, "jjansen", "ws-0042", "Jan Jansen", "10.1.2.3"):
        assert secret not in export.content
    bundle = json.loads(export.content)
    patterns = sorted(o["pattern"] for o in bundle["objects"] if o["type"] == "indicator")
    assert patterns == [
        "[domain-name:value = 'evil.example']",
        "[file:hashes.'SHA-256' = '" + "b" * 64 + "']",
        "[ipv4-addr:value = '185.220.101.7']",
    ]
    assert all(
        o["object_marking_refs"] == ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]
        for o in bundle["objects"]
        if o["type"] in ("indicator", "report")
    )
    with unit_of_work(sessions, write=False) as db:
        from core.audit import AuditEntry

        entries = [e for e in db.query(AuditEntry).all() if e.action == "intel.export"]
    assert len(entries) == 1


def test_misp_export_loads_back_with_its_tlp(
    sessions: sessionmaker[Session], clock: FrozenClock, incident: int
) -> None:
    export = _export(sessions, clock, incident, "misp")
    event = MISPEvent()
    event.load(export.content)
    assert [t.name for t in event.tags] == ["tlp:amber"]
    assert sorted((a.type, a.value, a.to_ids) for a in event.attributes) == [
        ("domain", "evil.example", True),
        ("ip-dst", "185.220.101.7", True),
        ("sha256", "b" * 64, True),
    ]
    assert BSN not in export.content and "Jansen" not in export.content


def test_exercise_incident_is_never_exported(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with unit_of_work(sessions) as db:
        drill = playbooks.create_incident(
            db=db, clock=clock, title="OEFENING", severity="low", actor="x", exercise_id="ex-1"
        )
        playbooks.add_observable(
            db=db, clock=clock, incident_id=drill.id, kind="ip", value="198.51.100.9", actor="x"
        )
        drill_id = drill.id
    with pytest.raises(ValidationError, match="exercise data is never shared"):
        _export(sessions, clock, drill_id, "stix")


def _bsn() -> st.SearchStrategy[str]:
    weights = (9, 8, 7, 6, 5, 4, 3, 2)

    def build(digits: list[int]) -> str | None:
        check = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        return None if check == 10 else "".join(map(str, digits)) + str(check)

    return (
        st.lists(st.integers(0, 9), min_size=8, max_size=8)
        .map(build)
        .filter(lambda v: v is not None and is_valid_bsn(v))  # type: ignore[arg-type]
    )  # type: ignore[return-value]


_name = st.from_regex(r"[A-Z][a-z]{2,8} [A-Z][a-z]{2,10}", fullmatch=True)
_email = st.from_regex(r"[a-z]{1,8}@[a-z]{2,8}\.nl", fullmatch=True)
_domain = st.from_regex(r"[a-z]{1,10}\.(example|nl|com)", fullmatch=True)
_hash = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)
_ip = st.ip_addresses().map(str)
_observable = st.one_of(
    st.tuples(st.just("ip"), _ip),
    st.tuples(st.just("domain"), _domain),
    st.tuples(st.just("hash"), _hash),
    st.tuples(st.sampled_from(["user", "host", "pseudonym", "domain", "hash"]), _bsn()),
    st.tuples(st.just("pseudonym"), _bsn().map(lambda b: Pseudonymiser(b"x" * 32).pseudonym(b))),
    st.tuples(st.sampled_from(["user", "domain", "host"]), _email),
    st.tuples(st.sampled_from(["user", "host", "domain"]), _name),
    st.tuples(st.just("domain"), st.tuples(_domain, _bsn()).map(lambda p: f"{p[1]}.{p[0]}")),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_observable, min_size=1, max_size=8))
def test_no_resident_identifier_ever_leaves(observables: list[tuple[str, str]]) -> None:
    shared = [(k, v) for k, v in observables if withheld_reason(k, v) is None]
    for kind, value in observables:
        if kind in ("user", "host", "pseudonym") or "@" in value or " " in value:
            assert (kind, value) not in shared
        if re.search(r"(?<![0-9])[0-9]{9}(?![0-9])", value) and any(
            is_valid_bsn(m) for m in re.findall(r"(?<![0-9])[0-9]{9}(?![0-9])", value)
        ):
            assert (kind, value) not in shared
        if kind == "ip" and not ipaddress.ip_address(value).is_global:
            assert (kind, value) not in shared
    if not shared:
        return
    bundle = stix_bundle(
        shared, name="Gemeente incident 1", organisation="Gemeente", tlp="green", clock=_clock()
    )
    _valid(bundle)
    withheld = [v for k, v in observables if (k, v) not in shared]
    for value in withheld:
        assert value not in bundle
    assert "rp_" not in bundle


def _clock() -> FrozenClock:
    return FrozenClock(NOW)
