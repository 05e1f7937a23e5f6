"""The demo world's public face: what the CLI, `dijkwacht up --demo` and drills call.

- `generate_world` writes a simulated municipality's raw logs, context tables and a manifest of
  the seeded misuse; `read_world` reads them back through the real collectors (parsers, then
  enrichment); `evaluate_world` scores the rule pack on them and `evaluation_table` prints that.
- `LDV_PARTNERS` and `LDV_EXPECTED_PER_HOUR`: the chain partners and per-system volumes of the
  world's Logboek Dataverwerkingen traffic, for the demo's LDV register.
- `event_series`: numbered, evenly spaced copies of one ECS event (a drill inject's events).

Tests may import the modules behind these directly (`demo_world.generate`, `.ingest`, ...).
"""

from __future__ import annotations

from demo_world.evaluate import evaluate_world
from demo_world.evaluate import table as evaluation_table
from demo_world.generate import generate_world
from demo_world.ingest import read_world
from demo_world.ldv import EXPECTED_PER_HOUR as LDV_EXPECTED_PER_HOUR
from demo_world.ldv import PARTNERS as LDV_PARTNERS
from demo_world.series import event_series

__all__ = [
    "LDV_EXPECTED_PER_HOUR",
    "LDV_PARTNERS",
    "evaluate_world",
    "evaluation_table",
    "event_series",
    "generate_world",
    "read_world",
]
