"""Score the rule pack on a generated world: every seeded scenario caught, false alarms counted.

A detection is *seeded* when it names at least one event the manifest lists; every other
detection is a false alarm on normal traffic. Single-event matches are folded by the rule's
``dijkwacht.dedup`` policy first (as ``detection.alerts`` does), so the counts are alerts an
analyst would see, not raw matches.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.events import get_field
from demo_world.ingest import read_world
from detection import service as detection

if TYPE_CHECKING:
    from detection.service import Detection, RulePackRun

RULES_DIR = detection.SHIPPED_RULES


@dataclass
class ScenarioResult:
    scenario: str
    rule_id: str
    description: str
    detected: bool
    seeded_share: float  # share of the alert's events that are seeded ones (best alert)


@dataclass
class Evaluation:
    scenarios: list[ScenarioResult]
    false_alarms: Counter[str]
    titles: dict[str, str]
    events: int
    refused: int
    alerts: list[Detection] = field(default_factory=list)


def evaluate_world(*, directory: Path, rules: Path = RULES_DIR) -> Evaluation:
    """Ingest ``directory`` through the collectors and run the rule pack over it."""
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    ingested = read_world(directory=directory)
    run = detection.run_rule_pack(events_with_ids=ingested.events, paths=[rules])
    events = dict(ingested.events)
    alerts = _dedup(run, events)
    seeded = {event_id for entry in manifest["scenarios"] for event_id in entry["events"]}
    results = []
    for entry in manifest["scenarios"]:
        mine = set(entry["events"])
        best = 0.0
        for alert in alerts:
            if alert.rule_id == entry["rule_id"] and mine.intersection(alert.event_ids):
                share = len(mine.intersection(alert.event_ids)) / len(alert.event_ids)
                best = max(best, share)
        results.append(
            ScenarioResult(entry["id"], entry["rule_id"], entry["description"], best > 0, best)
        )
    false_alarms: Counter[str] = Counter(
        alert.rule_id for alert in alerts if not seeded.intersection(alert.event_ids)
    )
    return Evaluation(results, false_alarms, run.titles, len(events), len(ingested.refused), alerts)


def _dedup(run: RulePackRun, events: dict[str, Any]) -> list[Detection]:
    """Fold single-event matches by each rule's dedup policy (same field values within N min)."""
    first_seen: dict[tuple[str, tuple[str, ...]], datetime] = {}
    kept: list[Detection] = []
    for found in run.detections:
        policy = run.policies.get(found.rule_id)
        if found.kind != "match" or policy is None:
            kept.append(found)
            continue
        event = events[found.event_ids[0]]
        key = (found.rule_id, tuple(str(get_field(event, f)) for f in policy.fields))
        moment = datetime.fromisoformat(event["@timestamp"])
        start = first_seen.get(key)
        if start is not None and moment - start < policy.window:
            continue
        first_seen[key] = moment
        kept.append(found)
    return kept


def table(evaluation: Evaluation) -> str:
    """The Markdown table rule → scenario → detected / false alarms."""
    lines = [
        "| rule | scenario | detected | false alarms (normal traffic) |",
        "| --- | --- | --- | --- |",
    ]
    by_rule: dict[str, list[ScenarioResult]] = {}
    for result in evaluation.scenarios:
        by_rule.setdefault(result.rule_id, []).append(result)
    names = sorted(evaluation.titles, key=lambda r: evaluation.titles[r].lower())
    for rule_id in names:
        scenarios = by_rule.get(rule_id, [])
        label = ", ".join(f"{s.scenario} {s.description}" for s in scenarios) or "-"
        detected = ", ".join("yes" if s.detected else "**no**" for s in scenarios) or "-"
        if (
            not scenarios
            and rule_id not in evaluation.false_alarms
            and _is_base(rule_id, evaluation)
        ):
            continue
        lines.append(
            f"| {evaluation.titles[rule_id]} | {label} | {detected} | "
            f"{evaluation.false_alarms.get(rule_id, 0)} |"
        )
    return "\n".join(lines) + "\n"


def _is_base(rule_id: str, evaluation: Evaluation) -> bool:
    return "(base" in evaluation.titles[rule_id]
