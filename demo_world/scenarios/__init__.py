"""Seeded misuse: each scenario writes raw records at a known time and names the rule that must
catch it. The manifest (``generate.py``) lists every seeded record by file and line.

Scenarios pick their actors from the population with the seeded generator, so the same seed
gives the same misuse at the same moments. One module a kind of source: ``portal`` (logins and
forms), ``records`` (the municipal applications' audit), ``systems`` (network, mail, Windows, web).
"""

from demo_world.scenarios.context import Ctx, rule_id

__all__ = ["Ctx", "rule_id"]
