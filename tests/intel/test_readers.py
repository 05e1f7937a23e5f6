"""Feed readers: real-format samples built with PyMISP and stix2; bad input is a located issue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import orjson
import stix2
from hypothesis import given, settings
from hypothesis import strategies as st

from intel.csv_feed import read_csv
from intel.feeds import read_location
from intel.misp import read_export
from intel.stix import read_bundle
from intel.warninglists import Warninglists, read_warninglist
from tests.intel.conftest import EVIL_DOMAIN, EVIL_IP, EVIL_SHA256, NOW, misp_event, stix_bundle


def test_misp_feed_folder_gives_detection_attributes_with_context(
    misp_feed: Callable[..., Path],
) -> None:
    folder = misp_feed(tags=("tlp:green", 'misp-galaxy:mitre-attack-pattern="Phishing - T1566"'))
    parsed = read_location(str(folder), "misp-feed")
    values = {(r.type, r.value) for r in parsed.records}
    assert values == {("ipv4", EVIL_IP), ("domain", EVIL_DOMAIN), ("sha256", EVIL_SHA256)}
    assert parsed.skipped == 1  # the md5 without to_ids
    assert parsed.rejected == 0
    record = parsed.records[0]
    assert record.tlp == "green"
    assert record.techniques == ("T1566",)
    assert record.confidence == 90  # threat level 1
    assert record.group_key and record.group_key.startswith("misp:")
    assert len({r.group_key for r in parsed.records}) == 1


def test_misp_export_and_bad_attribute_is_located(tmp_path: Path) -> None:
    event = misp_event(
        attributes=[("ip-src", "not-an-ip", True), ("url", "http://Evil.example/x", True)]
    )
    data = orjson.dumps({"response": [orjson.loads(event.to_json())]})
    parsed = read_export(data, "export.json")
    assert [(r.type, r.value) for r in parsed.records if r.type == "url"] == [
        ("url", "http://evil.example/x")
    ]
    assert parsed.rejected == 1
    issue = parsed.issues[0]
    assert issue.source == "export.json"
    assert issue.field == "[0]Event.Attribute[0].value" or issue.field.endswith(
        "Attribute[0].value"
    )


def test_broken_feed_folder_reports_instead_of_crashing(tmp_path: Path) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()
    uuid = "0b7e1f0a-1111-4222-8333-444455556666"
    (folder / "manifest.json").write_text(orjson.dumps({uuid: {}}).decode())
    (folder / f"{uuid}.json").write_text("{not json")
    parsed = read_location(str(folder), "misp-feed")
    assert parsed.records == [] and parsed.rejected == 1
    assert f"{uuid}.json" in parsed.issues[0].source
    assert read_location(str(tmp_path / "missing"), "misp-feed").rejected == 1


def test_stix_bundle_ranges_user_agents_markings_and_attack() -> None:
    parsed = read_bundle(stix_bundle().encode(), "bundle.json")
    by_type = {r.type: r for r in parsed.records}
    assert set(by_type) == {"cidr", "user_agent"}
    assert by_type["cidr"].value == "203.0.113.0/24"
    assert by_type["cidr"].tlp == "amber" and by_type["cidr"].confidence == 85
    assert by_type["cidr"].techniques == ("T1566",)
    assert by_type["user_agent"].value == "EvilLoader/2.0" and by_type["user_agent"].tlp == "red"
    assert by_type["cidr"].group_key == by_type["user_agent"].group_key


def test_stix_pattern_that_needs_correlation_is_rejected_with_reason() -> None:
    both = stix2.Indicator(
        pattern="[ipv4-addr:value = '192.0.2.1'] FOLLOWEDBY [domain-name:value = 'x.example']",
        pattern_type="stix",
        valid_from=NOW,
    )
    hashes = stix2.Indicator(
        pattern="[file:hashes.'SHA-256' = '"
        + "b" * 64
        + "' OR file:hashes.MD5 = '"
        + "c" * 32
        + "']",
        pattern_type="stix",
        valid_from=NOW,
    )
    parsed = read_bundle(str(stix2.Bundle(both, hashes).serialize()).encode(), "b.json")
    assert {(r.type, r.value) for r in parsed.records} == {("sha256", "b" * 64), ("md5", "c" * 32)}
    assert parsed.rejected == 1
    assert parsed.issues[0].field == "objects[0].pattern"
    assert "FollowedBy" in parsed.issues[0].message


def test_stix_expired_and_revoked_are_flagged() -> None:
    parsed = read_bundle(stix_bundle(valid_until=NOW - timedelta(hours=1)).encode(), "b")
    cidr = next(r for r in parsed.records if r.type == "cidr")
    assert cidr.valid_until == NOW - timedelta(hours=1)


def test_csv_rows_and_located_errors() -> None:
    data = (
        b"type,value,confidence,tlp,valid_until,techniques,group\n"
        b"domain,Phish.Example.,80,TLP:AMBER,2027-01-01T00:00+00:00,T1566;t1204,wave1\n"
        b"ipv4,300.1.1.1,50,green,,,\n"
        b"sha256,abc,50,green,,,\n"
    )
    parsed = read_csv(data, "list.csv")
    assert [(r.type, r.value, r.tlp) for r in parsed.records] == [
        ("domain", "phish.example", "amber")
    ]
    assert parsed.records[0].techniques == ("T1566", "T1204")
    assert [(i.line, i.field) for i in parsed.issues] == [(3, "value"), (4, "value")]
    assert read_csv(b"kind,value\nx,y\n", "bad.csv").issues[0].field == "header"


def test_warninglist_published_format(tmp_path: Path) -> None:
    document = {
        "name": "List of known public DNS resolvers",
        "version": 1,
        "description": "x",
        "matching_attributes": ["ip-dst"],
        "type": "cidr",
        "list": ["8.8.8.0/24", "not-a-net"],
    }
    parsed = read_warninglist(orjson.dumps(document), "dns.json")
    assert parsed.warninglists[0].values == ["8.8.8.0/24"]
    assert parsed.issues[0].field == "list[1]"
    lists = Warninglists.build([("cidr", "8.8.8.0/24"), ("hostname", "google.com")])
    assert lists.listed("ipv4", "8.8.8.8")
    assert not lists.listed("ipv4", "8.8.4.4")
    assert lists.listed("domain", "mail.google.com")
    assert lists.listed("url", "https://www.google.com/")
    assert not lists.listed("domain", "google.com.evil.example")


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_readers_never_crash_on_arbitrary_bytes(data: bytes) -> None:
    for reader in (read_export, read_bundle, read_csv, read_warninglist):
        parsed = reader(data, "fuzz")
        assert parsed.rejected == len(parsed.issues) or parsed.records or parsed.warninglists


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["type", "objects", "id", "spec_version"]),
        st.one_of(
            st.text(max_size=20),
            st.lists(st.dictionaries(st.text(max_size=8), st.text(max_size=8)), max_size=3),
        ),
    )
)
def test_stix_reader_never_crashes_on_odd_bundles(document: dict[str, object]) -> None:
    parsed = read_bundle(orjson.dumps(document), "fuzz")
    assert isinstance(parsed.rejected, int)
