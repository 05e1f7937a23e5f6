"""Intel fixtures: a migrated database, a frozen clock, and feeds built with the libraries' own
builders (PyMISP's `MISPEvent.to_feed`, `stix2` objects), never hand-written JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import stix2
from pymisp import MISPEvent, MISPObject, MISPOrganisation
from sqlalchemy.orm import Session, sessionmaker

from core.clock import FrozenClock
from core.config import Settings
from core.store.relational import create_db_engine, create_session_factory, migrate

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
EVIL_IP = "198.51.100.7"
EVIL_DOMAIN = "evil.example"
EVIL_SHA256 = "a" * 64


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    migrate(settings)
    engine = create_db_engine(settings)
    yield create_session_factory(engine)
    engine.dispose()


def misp_event(
    *,
    attributes: list[tuple[str, str, bool]],
    tags: tuple[str, ...] = ("tlp:green",),
    threat_level: int = 1,
    when: datetime = NOW - timedelta(days=1),
) -> MISPEvent:
    event = MISPEvent()
    event.info = "Phishing wave against municipalities"
    org = MISPOrganisation()
    org.name, org.uuid = "IBD", "5b1f3e2a-0000-4000-8000-000000000001"
    event.Orgc = org
    event.threat_level_id = threat_level
    event.date = when.date()
    for tag in tags:
        event.add_tag(tag)
    for misp_type, value, to_ids in attributes:
        attribute = event.add_attribute(misp_type, value, to_ids=to_ids)
        attribute.timestamp = when
    file_object = MISPObject("file")
    file_object.add_attribute("sha256", value=EVIL_SHA256, to_ids=True)
    event.add_object(file_object)
    return event


def write_misp_feed(folder: Path, events: list[MISPEvent]) -> Path:
    """A MISP feed folder as MISP's feed generator writes it: manifest.json + <uuid>.json."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {}
    for event in events:
        feed = event.to_feed(with_meta=True)
        manifest.update(feed["Event"].pop("_manifest"))
        feed["Event"].pop("_hashes", None)
        (folder / f"{event.uuid}.json").write_bytes(orjson.dumps(feed))
    (folder / "manifest.json").write_bytes(orjson.dumps(manifest))
    return folder


@pytest.fixture
def misp_feed(tmp_path: Path) -> Callable[..., Path]:
    def build(**kwargs: Any) -> Path:
        attributes = kwargs.pop(
            "attributes",
            [
                ("ip-dst", EVIL_IP, True),
                ("domain", EVIL_DOMAIN, True),
                ("md5", "d41d8cd98f00b204e9800998ecf8427e", False),  # not for detection
            ],
        )
        folder = kwargs.pop("folder", tmp_path / "feed")
        return write_misp_feed(folder, [misp_event(attributes=attributes, **kwargs)])

    return build


def stix_bundle(*, valid_until: datetime | None = None, extra: tuple[Any, ...] = ()) -> str:
    """A STIX 2.1 bundle: two indicators (a range and a user agent), an ATT&CK pattern."""
    technique = stix2.AttackPattern(
        name="Phishing",
        external_references=[{"source_name": "mitre-attack", "external_id": "T1566"}],
    )
    net = stix2.Indicator(
        name="C2 range",
        pattern="[ipv4-addr:value ISSUBSET '203.0.113.0/24']",
        pattern_type="stix",
        valid_from=NOW - timedelta(days=2),
        valid_until=valid_until,
        confidence=85,
        object_marking_refs=[stix2.TLP_AMBER],
    )
    agent = stix2.Indicator(
        name="Loader UA",
        pattern=(
            "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'"
            " = 'EvilLoader/2.0']"
        ),
        pattern_type="stix",
        valid_from=NOW - timedelta(days=2),
        object_marking_refs=[stix2.TLP_RED],
    )
    link = stix2.Relationship(net, "indicates", technique)
    bundle = stix2.Bundle(technique, net, agent, link, *extra)
    return str(bundle.serialize())
