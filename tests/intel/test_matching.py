"""Indicators matched on ingest, end to end: spool -> event store -> detection hook -> alerts.

The feeds are real-format samples (a MISP feed folder written by PyMISP, a STIX 2.1 bundle made
with stix2, a CSV list, a MISP warninglist); the events go through the spool consumer and the
detection hook the collector runs, so the alert lands in the real alert store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from collectors.consumer import SpoolConsumer
from collectors.spool import Spool
from core.clock import FrozenClock
from core.config import Settings, load_settings
from core.events import new_event
from core.store.base import AlertQuery, StoredAlert
from core.store.factory import open_alert_store, open_event_store
from core.store.relational import create_db_engine, create_session_factory
from dijkwacht.detection_runtime import DetectionHook
from intel.alerting import RULE_ID
from intel.flows import ImportOutcome, hunt_keys, import_and_hunt
from tests.intel.conftest import EVIL_DOMAIN, EVIL_IP, NOW, stix_bundle

EMPTY_RULES = (
    "title: never\nid: 00000000-0000-4000-8000-00000000aaaa\nstatus: test\n"
    "logsource: {product: none}\ndetection: {sel: {event.action: never-ever}, condition: sel}\n"
)


class Platform:
    """A collector's detection path on one data dir, with a frozen clock."""

    def __init__(self, tmp_path: Path, clock: FrozenClock, **overrides: Any) -> None:
        rules = tmp_path / "rules"
        rules.mkdir(exist_ok=True)
        (rules / "none.yml").write_text(EMPTY_RULES)
        self.settings: Settings = load_settings(
            environment="test",
            data_dir=tmp_path / "data",
            detection_rules=[rules],
            intel_matcher_check_seconds=0.001,
            **overrides,
        )
        self.clock = clock
        self.hook = DetectionHook(settings=self.settings, clock=clock)
        self.engine = create_db_engine(self.settings)
        self.sessions: sessionmaker[Session] = create_session_factory(self.engine)
        self.spool = Spool(tmp_path / "spool.sqlite")
        self.store = open_event_store(self.settings)

    def ingest(self, *events: dict[str, Any]) -> None:
        self.spool.append(list(events), source="test")
        SpoolConsumer(
            spool=self.spool, store=self.store, batch_size=100, on_batch=self.hook
        ).drain()

    def load(self, location: Path | str, fmt: str, source: str, **kw: Any) -> ImportOutcome:
        return import_and_hunt(
            settings=self.settings,
            clock=self.clock,
            sessions=self.sessions,
            location=str(location),
            fmt=fmt,
            source=source,
            **kw,
        )

    def alerts(self) -> list[StoredAlert]:
        with open_alert_store(self.settings) as alerts:
            return [a for a in alerts.search(AlertQuery(limit=500)) if a.rule_id == RULE_ID]

    def close(self) -> None:
        self.hook.close()
        self.store.close()
        self.spool.close()
        self.engine.dispose()


@pytest.fixture
def platform(tmp_path: Path, clock: FrozenClock) -> Iterator[Platform]:
    world = Platform(tmp_path, clock)
    yield world
    world.close()


def event(**fields: Any) -> dict[str, Any]:
    return new_event(
        timestamp=NOW - timedelta(minutes=5), dataset="network.flow", original="x", fields=fields
    )


def test_matching_events_alert_with_indicator_context(
    platform: Platform, misp_feed: Callable[..., Path], tmp_path: Path
) -> None:
    feed = misp_feed(tags=("tlp:green", 'misp-galaxy:mitre-attack-pattern="Phishing - T1566"'))
    outcome = platform.load(feed, "misp-feed", "ibd")
    assert outcome.report.counts()["added"] == 3 and outcome.report.skipped == 1
    bundle = tmp_path / "bundle.json"
    bundle.write_text(stix_bundle())
    assert platform.load(bundle, "stix", "ncsc").report.added == 2

    platform.ingest(
        event(**{"destination.ip": EVIL_IP, "source.ip": "10.1.2.3"}),
        event(**{"dns.question.name": "cdn.Evil.Example."}),
        event(**{"source.ip": "203.0.113.77"}),
        event(**{"user_agent.original": "EvilLoader/2.0"}),
        event(**{"destination.ip": "192.0.2.200", "dns.question.name": "good.example"}),
    )
    alerts = {a.body["dijkwacht.intel"]["indicator"]: a for a in platform.alerts()}
    assert set(alerts) == {
        f"ipv4:{EVIL_IP}",
        f"domain:{EVIL_DOMAIN}",
        "cidr:203.0.113.0/24",
        "user_agent:EvilLoader/2.0",
    }
    ip_alert = alerts[f"ipv4:{EVIL_IP}"]
    enrichment = ip_alert.body["threat"]["enrichments"][0]
    assert enrichment["indicator"]["provider"] == "ibd"
    assert enrichment["indicator"]["marking"]["tlp"] == "GREEN"
    assert enrichment["indicator"]["confidence"] == "90"
    assert enrichment["matched"] == {
        **enrichment["matched"],
        "field": "destination.ip",
        "atomic": EVIL_IP,
    }
    related = {(r["type"], r["value"]) for r in ip_alert.body["dijkwacht.intel"]["related"]}
    assert related == {("domain", EVIL_DOMAIN), ("sha256", "a" * 64)}
    assert ip_alert.body["tags"] == ["attack.t1566"]
    assert ip_alert.level == "high"
    assert alerts["cidr:203.0.113.0/24"].body["dijkwacht.intel"]["tlp"] == "amber"
    assert alerts["cidr:203.0.113.0/24"].body["dijkwacht.intel"]["techniques"] == ["T1566"]
    assert (
        alerts["domain:evil.example"].body["threat"]["enrichments"][0]["matched"]["atomic"]
        == "cdn.Evil.Example."
    )

    platform.ingest(event(**{"destination.ip": EVIL_IP}))  # a new event: a new alert
    assert len(platform.alerts()) == 5


def test_expired_warninglisted_and_decayed_indicators_do_not_alert(
    platform: Platform, tmp_path: Path
) -> None:
    warninglist = tmp_path / "wl.json"
    warninglist.write_text(
        json.dumps({"name": "cdn", "type": "hostname", "list": ["cdn.example"], "version": 1})
    )
    assert (
        platform.load(warninglist, "warninglist", "misp-warninglists").report.warninglist_entries
        == 1
    )
    csv_file = tmp_path / "list.csv"
    old = (NOW - timedelta(days=400)).isoformat()
    csv_file.write_text(
        "type,value,confidence,valid_until,last_seen\n"
        f"domain,gone.example,90,{(NOW - timedelta(hours=1)).isoformat()},\n"
        "domain,static.cdn.example,90,,\n"
        f"domain,old.example,60,,{old}\n"
        "domain,live.example,60,,\n"
    )
    report = platform.load(csv_file, "csv", "sector").report
    assert (report.added, report.expired, report.warninglisted) == (2, 1, 1)

    platform.ingest(
        event(**{"dns.question.name": "gone.example"}),
        event(**{"dns.question.name": "static.cdn.example"}),
        event(**{"dns.question.name": "old.example"}),
        event(**{"dns.question.name": "live.example"}),
    )
    assert [a.body["dijkwacht.intel"]["indicator"] for a in platform.alerts()] == [
        "domain:live.example"
    ]

    # A warninglist that arrives later retires the stored indicator; the matcher rebuilds.
    warninglist.write_text(
        json.dumps({"name": "mine", "type": "string", "list": ["live.example"], "version": 1})
    )
    assert platform.load(warninglist, "warninglist", "misp-warninglists").report.warninglisted == 1
    platform.ingest(event(**{"dns.question.name": "live.example"}))
    assert len(platform.alerts()) == 1

    # Expiry by time: the clock moves past valid_until of a loaded indicator.
    csv_file.write_text(
        f"type,value,valid_until\nipv4,192.0.2.99,{(NOW + timedelta(hours=1)).isoformat()}\n"
    )
    platform.load(csv_file, "csv", "sector2")
    platform.clock.advance(timedelta(hours=2))
    platform.ingest(event(**{"source.ip": "192.0.2.99"}))
    assert len(platform.alerts()) == 1


def test_retro_hunt_finds_a_past_event_once(platform: Platform, tmp_path: Path) -> None:
    platform.ingest(
        event(**{"url.full": "HTTP://Evil.example:80/payload.exe"}),
        event(**{"email.from.address": "Boss@Phish.example"}),
        event(**{"url.full": "https://good.example/"}),
    )
    assert platform.alerts() == []
    csv_file = tmp_path / "late.csv"
    csv_file.write_text(
        "type,value\nurl,http://evil.example/payload.exe\nemail,boss@phish.example\n"
    )
    outcome = platform.load(csv_file, "csv", "late")
    assert outcome.hunt is not None
    assert (outcome.hunt.events, outcome.hunt.alerts) == (3, 2)
    assert len(platform.alerts()) == 2
    assert {a.body["dijkwacht.intel"]["found_by"] for a in platform.alerts()} == {"hunt"}

    again, ids = hunt_keys(
        settings=platform.settings, clock=platform.clock, sessions=platform.sessions, keys=None
    )
    assert (again.matches, again.alerts, ids) == (2, 0, [])
    # The stream sees the same stored events again (a redelivered batch): still one alert each.
    with open_event_store(platform.settings) as store:
        from core.store.base import EventQuery

        stored = store.search(EventQuery(limit=10))
    platform.hook.process([s.event for s in stored])
    assert len(platform.alerts()) == 2


def test_hunt_window_is_bounded(tmp_path: Path, clock: FrozenClock) -> None:
    world = Platform(tmp_path, clock, intel_hunt_window_hours=1)
    try:
        world.ingest(
            new_event(
                timestamp=NOW - timedelta(hours=3),
                dataset="dns",
                original="x",
                fields={"dns.question.name": "late.example"},
            )
        )
        csv_file = tmp_path / "l.csv"
        csv_file.write_text("type,value\ndomain,late.example\n")
        outcome = world.load(csv_file, "csv", "s")
        assert outcome.hunt is not None and outcome.hunt.events == 0
        assert world.alerts() == []
    finally:
        world.close()


def test_a_drill_event_raises_an_exercise_alert(platform: Platform, tmp_path: Path) -> None:
    csv_file = tmp_path / "d.csv"
    csv_file.write_text("type,value\nsha256," + "c" * 64 + "\n")
    platform.load(csv_file, "csv", "sector")
    platform.ingest(event(**{"file.hash.sha256": "C" * 64, "dijkwacht.exercise.id": "oef-2026-12"}))
    [alert] = platform.alerts()
    assert alert.exercise_id == "oef-2026-12"


def test_a_loaded_indicator_stops_alerting_when_it_decays(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """Confidence 40, floor 20, half-life 30 days: the score crosses the floor at day 30; the
    streaming matcher, built before, drops it then without any import moving the version."""
    world = Platform(tmp_path, clock, intel_half_life_days=30, intel_min_score=20)
    try:
        csv_file = tmp_path / "d.csv"
        csv_file.write_text(
            f"type,value,confidence,last_seen\nipv4,192.0.2.44,40,{NOW.isoformat()}\n"
        )
        world.load(csv_file, "csv", "sector")
        clock.advance(timedelta(days=29))
        world.ingest(event(**{"source.ip": "192.0.2.44"}))
        [alert] = world.alerts()
        assert alert.body["dijkwacht.intel"]["score"] == pytest.approx(20.5, abs=0.1)
        clock.advance(timedelta(days=2))
        world.ingest(event(**{"source.ip": "192.0.2.44"}))
        assert len(world.alerts()) == 1
    finally:
        world.close()
