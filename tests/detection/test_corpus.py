"""Our engine against the reference results on the real sigma-dev corpus (696 SigmaHQ rules).

Runs every rule over 13,069 Windows events under both pipeline stacks, takes the union, and
compares per rule with the reference's ``matched_event_line_numbers``. Any difference must be
listed, with its reasoning, in ``corpus_deviations.py``.
"""

from __future__ import annotations

import json

import orjson
import pytest

from detection.service import load_rules
from tests.conftest import CORPUS_DIR
from tests.detection.corpus_deviations import DEVIATIONS

# CI clones the repository next to a copy of shared/: always the repo root's parent.
CORPUS = CORPUS_DIR / "sigma-dev"
STACKS = ("sysmon+windows-logsources", "windows-audit+windows-logsources")

pytestmark = pytest.mark.skipif(
    not (CORPUS / "expected.json").is_file(),
    reason=f"sigma-dev corpus not found at {CORPUS} (shared/ beside the repository)",
)


def test_engine_agrees_with_reference_on_sigma_dev() -> None:
    expected = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
    ruleset = load_rules(paths=[CORPUS / "rules"], stacks=STACKS)
    assert not ruleset.problems, ruleset.problems
    assert len(ruleset.rules) == len(expected) == 696

    found: dict[str, set[int]] = {}
    batch: list[dict[str, object]] = []
    start = 0
    with (CORPUS / "events.jsonl").open("rb") as source:
        for line in source:
            batch.append(orjson.loads(line))
            if len(batch) == 4096:
                for index, number in ruleset.match_pairs(batch, start=start):
                    found.setdefault(ruleset.rules[number].rule_id, set()).add(index + 1)
                start += len(batch)
                batch = []
    for index, number in ruleset.match_pairs(batch, start=start):
        found.setdefault(ruleset.rules[number].rule_id, set()).add(index + 1)
    assert start + len(batch) == 13069

    differences = []
    agree = 0
    for record in expected:
        rule_id = record["rule_id"]
        want = set(record["matched_event_line_numbers"])
        got = found.get(rule_id, set())
        extra, missing = frozenset(got - want), frozenset(want - got)
        documented = DEVIATIONS.get(rule_id)
        if not extra and not missing:
            agree += 1
            if documented is not None:
                differences.append(f"{rule_id}: documented deviation no longer differs")
        elif documented is None or documented[:2] != (extra, missing):
            differences.append(
                f"{rule_id} {record['title']!r}: extra lines {sorted(extra)[:20]}, "
                f"missing lines {sorted(missing)[:20]}"
            )
    assert not differences, "\n".join(differences)
    assert agree + len(DEVIATIONS) == len(expected)
