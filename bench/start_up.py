"""What a fresh `dijkwacht` command and the dashboard pay to import, and what the process side
would add if it sat in the light facades.

Value: CPU seconds a fresh interpreter spends importing `dijkwacht.cli` and `dashboard.app`
(what `dijkwacht --help` and a web worker's start pay). Baseline: the same plus
`collectors.processes` and the scapy modules a capture read loads (what they would pay if the
listeners and readers were in `collectors.service`). CPU time of the child (user + system), not
wall time: on a shared machine wall time measures the neighbours. Interleaved pairs; the
median of `--pairs` ratios is reported, with the modules each side imports (a count no load
moves). Last line: the standard JSON.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
ROOTS = "import dijkwacht.cli, dashboard.app"
WITH_PROCESSES = ROOTS + "; import collectors.processes, scapy.utils, scapy.layers.dns"


def import_cost(code: str) -> tuple[float, int]:
    """CPU seconds of a fresh interpreter running `code`, and how many modules it imported."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    modules = sum(1 for line in done.stderr.splitlines() if line.startswith("import time:"))
    return cpu, modules - 1  # less the header line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    pairs = parser.parse_args().pairs
    values, baselines, ratios = [], [], []
    modules = (0, 0)
    for _ in range(pairs):
        (value, few), (baseline, many) = import_cost(ROOTS), import_cost(WITH_PROCESSES)
        values.append(value)
        baselines.append(baseline)
        ratios.append(value / baseline)
        modules = (few, many)
        print(f"roots {value:.2f} s CPU, with the process side {baseline:.2f} s", file=sys.stderr)
    result = {
        "metric": "start_up_cpu_s_roots_vs_roots_with_process_side",
        "value": round(statistics.median(values), 3),
        "baseline": round(statistics.median(baselines), 3),
        "ratio": round(statistics.median(ratios), 3),
        "target": 0.9,
        "ratios": [round(r, 3) for r in ratios],
        "modules": {"roots": modules[0], "with_process_side": modules[1]},
    }
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
