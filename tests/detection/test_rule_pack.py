"""The shipped rule pack: every rule has a level, the personal-data attribute and its own
positive and negative test events (detection/rule_tests/<rule name or id>.yml), and they pass.

Test events list dotted ECS fields (the enriched fields included: these test the rules, the
enricher is exercised by the generated week in tests/demo_world/test_world.py). ``repeat: N``
copies the events N times ``every`` seconds apart, formatting ``{i}`` in the ``vary`` fields.
The whole pack runs on each case, so a correlation sees its base rule exactly as in production.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.events import set_field
from detection.rulepack import evaluate
from detection.stream import Detector, load_detector

ROOT = Path(__file__).resolve().parents[2] / "detection"
RULES = ROOT / "rules"
TESTS = ROOT / "rule_tests"
T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@cache
def detector() -> Detector:
    loaded = load_detector(paths=[RULES])
    assert not loaded.problems and not loaded.ruleset.problems
    return loaded


def _documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(RULES.rglob("*.yml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)
    return docs


def _id(reference: str) -> str:
    if "-" in reference:
        return reference
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dijkwacht:rule:{reference}"))


def _alerting_rules() -> list[str]:
    base = {r for d in _documents() if "correlation" in d for r in d["correlation"]["rules"]}
    return [d.get("name") or d["id"] for d in _documents() if d.get("name") not in base]


def _events(case: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    count, every = int(case.get("repeat", 1)), float(case.get("every", 20))
    for i in range(count):
        for template in case["events"]:
            fields = {**template, **{k: v.format(i=i) for k, v in case.get("vary", {}).items()}}
            event: dict[str, Any] = {
                "@timestamp": (T0 + timedelta(seconds=every * i)).isoformat(),
                "event": {"kind": "event", "original": "test"},
            }
            for path, value in fields.items():
                set_field(event, path, value)
            out.append((f"e{len(out)}", event))
    return out


def _fires(rule_id: str, case: dict[str, Any]) -> bool:
    found = evaluate(detector=detector(), events_with_ids=_events(case))
    return any(d.rule_id == rule_id for d in found)


def test_pack_loads_every_rule_with_level_and_personal_data_flag() -> None:
    docs = _documents()
    assert len(docs) >= 40
    for doc in docs:
        assert doc.get("level"), doc["title"]
        if doc.get("author", "").startswith("Dijkwacht"):
            assert isinstance(doc.get("dijkwacht.personal_data"), bool), doc["title"]
    assert detector().ruleset.runnable


def test_sigmahq_rules_keep_their_attribution() -> None:
    for path in (RULES / "sigmahq").glob("*.yml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert doc["author"] and doc["id"] and doc["date"]
    assert "Detection Rule License" in (RULES / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("rule", _alerting_rules())
def test_every_alerting_rule_has_its_own_tests(rule: str) -> None:
    spec = yaml.safe_load((TESTS / f"{rule}.yml").read_text(encoding="utf-8"))
    assert spec["positive"] and spec["negative"]


@pytest.mark.parametrize("path", sorted(TESTS.glob("*.yml")), ids=lambda p: p.stem)
def test_rule_fires_on_positives_and_not_on_negatives(path: Path) -> None:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    rule_id = _id(spec["rule"])
    for case in spec["positive"]:
        assert _fires(rule_id, case), f"positive not detected: {case.get('description')}"
    for case in spec["negative"]:
        assert not _fires(rule_id, case), f"negative detected: {case.get('description')}"
