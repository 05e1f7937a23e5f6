"""Logboek Dataverwerkingen in the simulated municipality: the case system, the BRP service and
the tax system log every processing as LDV records, and chain partner WIJ Groningen calls the
BRP service under the one activity agreed with it.

Normal traffic never breaks a rule: every activity is in the register, a partner stays inside
its agreement, each record names one resident. The scenarios (`scenarios/ldv.py`) break them.
Randomness comes from a generator of its own per day, so the other sources' bytes do not move.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from demo_world import formats as fmt
from demo_world.formats import Record
from demo_world.population import Population

BASE = "https://register.groningen.nl/verwerkingen"
ACT_CASE = f"{BASE}/wmo-aanvraag-behandelen/v3"
ACT_BRP = f"{BASE}/brp-raadplegen-voor-zaak/v2"
ACT_BRP_OLD = f"{BASE}/brp-raadplegen-voor-zaak/v1"
ACT_TAX = f"{BASE}/aanslag-gemeentelijke-belastingen/v1"
ACT_WIJ = f"{BASE}/brp-verstrekking-wij/v1"
ACT_UNREGISTERED = f"{BASE}/wmo-aanvraag-behandelen/v4"
WIJ = "https://wij.groningen.nl"
CASE_SYSTEM, BRP_SYSTEM, TAX_SYSTEM = "zaaksysteem", "brp-bevraging", "belastingen"


@dataclass(frozen=True)
class DemoActivity:
    """A register entry of the demo (processing_register.yaml and ldv_activities.csv)."""

    uri: str
    system: str
    name: str
    purpose: str
    legal_basis: str
    retention: str
    retired: bool = False


ACTIVITIES = (
    DemoActivity(ACT_CASE, "Zaaksysteem", "Wmo-aanvraag behandelen", "ondersteuning Wmo",
                 "Wmo 2015, art. 2.3.2", "15 jaar"),
    DemoActivity(ACT_BRP, "BRP-bevraging", "BRP raadplegen voor een zaak",
                 "gegevens controleren", "Wet BRP, art. 3.3", "2 jaar"),
    DemoActivity(ACT_BRP_OLD, "BRP-bevraging", "BRP raadplegen voor een zaak (oud)",
                 "gegevens controleren", "Wet BRP, art. 3.3", "2 jaar", retired=True),
    DemoActivity(ACT_TAX, "Belastingen", "Aanslag gemeentelijke belastingen",
                 "heffing en inning", "Gemeentewet, art. 231", "7 jaar"),
    DemoActivity(ACT_WIJ, "BRP-bevraging", "BRP-verstrekking aan WIJ Groningen",
                 "sociaal wijkteam", "Wmo 2015, art. 5.2.1", "2 jaar"),
)  # fmt: skip
PARTNERS = (("WIJ Groningen", WIJ, "privacy@wij.example.nl", (ACT_WIJ,)),)
EXPECTED_PER_HOUR = {CASE_SYSTEM: 2, BRP_SYSTEM: 3, TAX_SYSTEM: 1}


def ids(rng: random.Random) -> tuple[str, str]:
    """A new trace id and span id drawn from the seed."""
    return f"{rng.getrandbits(128):032x}", f"{rng.getrandbits(64):016x}"


def span_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(64):016x}"


def ldv_day(
    seed: int, population: Population, day: date, zone: ZoneInfo, *, scale: float = 1.0
) -> list[Record]:
    """One day of LDV records: case work with BRP look-ups, tax assessments, WIJ's calls."""
    rng = random.Random(f"{seed}:ldv:{day.isoformat()}")
    records: list[Record] = []
    if day.isoweekday() > 5:
        scale *= 0.2  # weekend: batch runs and a few urgent cases
    base = datetime.combine(day, time(0), zone)

    def at(hour: float) -> datetime:
        return base + timedelta(seconds=int(hour * 3600))

    residents = population.residents
    for _ in range(int(40 * scale)):
        resident = residents[rng.randrange(len(residents))]
        trace, case_span = ids(rng)
        moment = at(8 + rng.random() * 8.5)
        records.append(Record(moment, fmt.LDV, fmt.ldv_record(
            moment, trace=trace, span=case_span, name="wmo-aanvraag beoordelen",
            system=CASE_SYSTEM, activity=ACT_CASE, subject=resident.bsn, duration_ms=900,
        )))  # fmt: skip
        look = moment + timedelta(milliseconds=120)
        records.append(Record(look, fmt.LDV, fmt.ldv_record(
            look, trace=trace, span=span_id(rng), parent=case_span, name="persoonslijst opvragen",
            system=BRP_SYSTEM, activity=ACT_BRP, subject=resident.bsn, duration_ms=80,
        )))  # fmt: skip
    for _ in range(int(25 * scale)):
        resident = residents[rng.randrange(len(residents))]
        trace, span = ids(rng)
        moment = at(9 + rng.random() * 7)
        records.append(Record(moment, fmt.LDV, fmt.ldv_record(
            moment, trace=trace, span=span, name="aanslag opleggen", system=TAX_SYSTEM,
            activity=ACT_TAX, subject=resident.bsn, duration_ms=400,
        )))  # fmt: skip
    for _ in range(int(15 * scale)):
        resident = residents[rng.randrange(len(residents))]
        trace, span = ids(rng)
        foreign_trace, foreign_span = ids(rng)
        moment = at(8.5 + rng.random() * 8)
        records.append(Record(moment, fmt.LDV, fmt.ldv_record(
            moment, trace=trace, span=span, name="persoonsgegevens verstrekken",
            system=BRP_SYSTEM, activity=ACT_WIJ, subject=resident.bsn, duration_ms=60,
            foreign=(foreign_trace, foreign_span, WIJ),
        )))  # fmt: skip
    return records


def write_context(directory: Path) -> None:
    """`ldv_activities.csv` and `ldv_partners.csv` as `ldv.export_context` writes them."""
    activities = ["uri,retired,requires_subject"] + [
        f"{a.uri},{str(a.retired).lower()},true" for a in ACTIVITIES
    ]
    partners = ["entity,name,activity"] + [
        f"{entity},{name},{activity}"
        for name, entity, _contact, agreed in PARTNERS
        for activity in agreed
    ]
    (directory / "ldv_activities.csv").write_text("\n".join(activities) + "\n", encoding="utf-8")
    (directory / "ldv_partners.csv").write_text("\n".join(partners) + "\n", encoding="utf-8")


def register_yaml() -> str:
    """The demo's processing register (the activities above), for `up --demo`."""
    systems: dict[str, list[DemoActivity]] = {}
    for activity in ACTIVITIES:
        systems.setdefault(activity.system, []).append(activity)
    lines = ["systems:"]
    for system, acts in systems.items():
        lines += [f"  - name: {system}", "    activities:"]
        for a in acts:
            lines += [
                f"      - name: {json.dumps(a.name)}",
                f"        purpose: {json.dumps(a.purpose)}",
                f"        uri: {a.uri}",
                f"        legal_basis: {json.dumps(a.legal_basis)}",
                f"        retention: {json.dumps(a.retention)}",
                f"        retired: {str(a.retired).lower()}",
                "        data_categories: [naam, adres, BSN]",
                "        subject_categories: [inwoners]",
            ]
    return "\n".join(lines) + "\n"
