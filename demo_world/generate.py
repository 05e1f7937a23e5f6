"""`generate_world`: population, normal days and seeded scenarios written as raw files.

Output layout: one raw file per source (see ``formats.FILES``), ``context/`` with the context
tables, and ``manifest.json`` listing each seeded scenario with the rule meant to catch it, its
time range and the (file, line) of every record it seeded. Same seed and start: same bytes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from demo_world import ldv
from demo_world.catalog import SCENARIOS, scenario_rule_id
from demo_world.formats import FILES, Record
from demo_world.normal import Day
from demo_world.population import build_population, write_context
from demo_world.scenarios import Ctx

DEFAULT_START = date(2026, 5, 4)  # a Monday
ZONE = ZoneInfo("Europe/Amsterdam")


@dataclass(frozen=True)
class WorldSummary:
    """What was written: counts per file and the number of seeded scenarios."""

    output: Path
    lines: dict[str, int]
    scenarios: int


def generate_world(
    *,
    output: Path,
    days: int = 7,
    seed: int = 42,
    start: date = DEFAULT_START,
    residents: int = 2000,
    employees: int = 30,
    scenarios: bool = True,
) -> WorldSummary:
    """Write a simulated municipality's logs for ``days`` days from ``start`` into ``output``."""
    if days < 1:
        raise ValueError("days: must be at least 1")
    if residents < 50 or employees < 10:
        raise ValueError("residents/employees: need at least 50 residents and 10 employees")
    rng = random.Random(seed)
    population = build_population(rng, residents=residents, employees=employees)
    records: list[Record] = []
    last_login: dict[str, datetime] = {}
    for offset in range(days):
        day = start + timedelta(days=offset)
        records.extend(Day(rng, population, day, ZONE).run(last_login))
        records.extend(ldv.ldv_day(seed, population, day, ZONE))
    seeded: list[dict[str, Any]] = []
    if scenarios:
        for index, scenario in enumerate(SCENARIOS):
            day = start + timedelta(days=index % days)
            moment = datetime.combine(day, time(0), ZONE) + timedelta(hours=scenario.hour)
            ctx = Ctx(
                random.Random(f"{seed}:{scenario.scenario_id}"),
                population,
                moment,
                scenario.scenario_id,
                [],
            )
            scenario.build(ctx)
            records.extend(ctx.records)
            seeded.append({"scenario": scenario, "records": ctx.records})
    output.mkdir(parents=True, exist_ok=True)
    write_context(population, output / "context")
    ldv.write_context(output / "context")
    (output / "processing_register.yaml").write_text(ldv.register_yaml(), encoding="utf-8")
    where = _write(records, output)
    manifest = {
        "seed": seed,
        "start": start.isoformat(),
        "days": days,
        "timezone": str(ZONE),
        "files": {name: {"parser": parser, **options} for name, (parser, options) in FILES.items()},
        "scenarios": [_entry(item["scenario"], item["records"], where) for item in seeded],
    }
    (output / "manifest.json").write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    lines = {name: sum(1 for r in records if r.file == name) for name in FILES}
    return WorldSummary(output, lines, len(seeded))


def _write(records: list[Record], output: Path) -> dict[int, tuple[str, int]]:
    """Write each file in time order; return record identity -> (file, 1-based line)."""
    where: dict[int, tuple[str, int]] = {}
    for name in FILES:
        mine = sorted((r for r in records if r.file == name), key=lambda r: r.time)
        with (output / name).open("w", encoding="utf-8", newline="\n") as handle:
            for line, record in enumerate(mine, start=1):
                handle.write(record.text + "\n")
                where[id(record)] = (name, line)
    return where


def _entry(
    scenario: Any, records: list[Record], where: dict[int, tuple[str, int]]
) -> dict[str, Any]:
    times = [r.time for r in records]
    return {
        "id": scenario.scenario_id,
        "rule_id": scenario_rule_id(scenario),
        "rule": scenario.rule,
        "description": scenario.description,
        "start": min(times).isoformat(),
        "end": max(times).isoformat(),
        "events": [f"{where[id(r)][0]}:{where[id(r)][1]}" for r in records],
    }
