"""Two base rules and a correlation over them, compiled from text, and hits to feed it: what
the correlation tests share."""

from __future__ import annotations

import textwrap
from pathlib import Path

from core.content import Issue
from detection.correlation import (
    CorrelationEngine,
    CorrelationSpec,
    Firing,
    Hit,
    compile_correlations,
)
from detection.loader import parse_sources, read_sources

FAILED = "00000000-0000-0000-0000-000000000001"
SUCCESS = "00000000-0000-0000-0000-000000000002"
CORR = "00000000-0000-0000-0000-0000000000c1"

BASE = f"""
title: Failed logon
id: {FAILED}
name: failed_logon
status: test
level: low
logsource: {{product: windows, service: security}}
detection:
  sel: {{EventID: 4625}}
  condition: sel
---
title: Successful logon
id: {SUCCESS}
name: success_logon
status: test
level: low
logsource: {{product: windows, service: security}}
detection:
  sel: {{EventID: 4624}}
  condition: sel
"""


def specs(tmp_path: Path, correlation: str) -> list[CorrelationSpec]:
    compiled, bad = compile_text(tmp_path, correlation)
    assert not bad, bad
    return compiled


def compile_text(tmp_path: Path, correlation: str) -> tuple[list[CorrelationSpec], list[Issue]]:
    text = (
        BASE
        + "---\n"
        + textwrap.dedent(
            f"""
        title: Correlation
        id: {CORR}
        status: test
        level: high
        correlation:
        """
        )
        + textwrap.indent(textwrap.dedent(correlation), "  ")
    )
    folder = tmp_path / f"rules{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    (folder / "rules.yml").write_text(text, encoding="utf-8")
    sources, problems = read_sources([folder])
    parsed = parse_sources(sources)
    assert not problems and not parsed.problems, parsed.problems
    return compile_correlations(parsed.correlations)


def hit(t: float, user: str = "bob", rule: str = FAILED, **fields: str) -> Hit:
    return Hit(rule, t, {"TargetUserName": user, **fields}, f"e{t:g}-{user}-{rule[-1]}")


def feed(engine: CorrelationEngine, hits: list[Hit]) -> list[Firing]:
    return [f for h in hits for f in engine.feed([h])]


COUNT = """
type: event_count
rules: [failed_logon]
group-by: [TargetUserName]
timespan: 5m
condition: {gte: 3}
"""
