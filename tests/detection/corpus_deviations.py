"""Where our engine and the reference (Zircolite v3.7.0 on pySigma 1.5.1) disagree on sigma-dev.

One entry per rule id: ``(lines we add, lines we miss, why ours follows the Sigma spec)``.
The corpus test fails on any difference not listed here, and on entries that no longer differ.
Rules are never tuned or special-cased in the engine to make this table shorter.

Currently empty: on the dev split all 696 rules agree line for line under the two stacks
``sysmon+windows-logsources`` and ``windows-audit+windows-logsources``.
"""

from __future__ import annotations

DEVIATIONS: dict[str, tuple[frozenset[int], frozenset[int], str]] = {}
