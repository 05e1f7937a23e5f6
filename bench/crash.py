"""Kill -9 of `dijkwacht collect` during HTTP, RELP and plain TCP ingest: lost and duplicated
acknowledged events, and plain TCP's lines lost per kill.

Run: `.venv/bin/python bench/crash.py [--kills 10]` (ten kills per transport, 30 in all, about
two minutes on two cores). The harness is `tests/collectors/crash_harness.py` (the test suite
runs it with two kills per transport). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.collectors.crash_harness import run_trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs per transport")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="dijkwacht-crash-") as tmp:
        for kind in ("http", "relp", "tcp"):
            result = run_trials(kind, kills=args.kills, data_dir=Path(tmp) / kind, seed=args.seed)
            results[kind] = result.as_dict()
            print(kind, results[kind], flush=True)
    print(orjson.dumps(results).decode())


if __name__ == "__main__":
    main()
