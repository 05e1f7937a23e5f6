"""Benchmark: events/s through the Sigma engine vs. orjson parsing alone, and rule-count scaling.

Run with ``.venv/bin/python bench/detect.py``. Uses the sigma-dev corpus beside the repository
(``../shared/corpus/sigma-dev``), repeated ``REPEAT`` times for stable timings. The engine figure
is the whole batch pipeline of ``dijkwacht detect``: read lines, orjson parse every line, match
all rules under both stacks, emit JSON lines. The parse-only baseline and the engine runs are
interleaved in one process (so a busy machine slows both alike); each figure is a median. Rule
loading/compilation is timed separately; after it the process's garbage collector is prepared
as the command prepares it (``core.gc_tuning``: the compiled rules frozen out of later
collections), which both legs then share. The last line printed is one JSON object for tooling.

Compile figures (``compile_*`` keys): the 2,407 SigmaHQ Windows rules of
``../shared/corpus/sigma-windows-rules`` loaded as the collector's detection hook loads them
(Windows mapping stacks, ``LastGood`` + ``CompileCache`` with a disk directory): cold (empty
cache: compile everything and write the cache), a reload with nothing changed, a reload after
editing one rule, a restart (new ``LastGood`` and ``CompileCache`` objects on the same
directory: nothing in memory) and a restart in a fresh Python process (the load timed inside
it, imports excluded). Target: restart <= 0.1 x cold. ``--compile-only`` prints just those,
its last line a JSON object with the fresh-process restart as ``value`` and the cold load as
``baseline``.
"""

from __future__ import annotations

import functools
import gc
import importlib.util
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.gc_tuning import prepare_gc  # noqa: E402
from detection.loader import LastGood  # noqa: E402
from detection.service import CompileCache, RuleSet, load_rules  # noqa: E402
from detection.winlog import WINDOWS_STACKS  # noqa: E402
from dijkwacht.commands.detect import BATCH_SIZE  # noqa: E402 - the command's batch size

# Beside the repository, as in CI; DIJKWACHT_SHARED_DIR points elsewhere (as for the tests).
SHARED = Path(os.environ.get("DIJKWACHT_SHARED_DIR") or REPO_ROOT.parent / "shared")
CORPUS = SHARED / "corpus" / "sigma-dev"
WINDOWS_RULES = SHARED / "corpus" / "sigma-windows-rules"
STACKS = ("sysmon+windows-logsources", "windows-audit+windows-logsources")
RUNS = 7
REPEAT = 4


def median_time(run: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(first: Callable[[], object], second: Callable[[], object]) -> tuple[float, float]:
    """Medians of alternating runs of two workloads, so both see the same machine load."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(RUNS):
        for run, bucket in ((first, times[0]), (second, times[1])):
            gc.collect()
            start = time.perf_counter()
            run()
            bucket.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def parse_only(lines: list[bytes]) -> None:
    loads = orjson.loads
    for line in lines:
        loads(line)


def engine_pipeline(ruleset: RuleSet, lines: list[bytes]) -> int:
    """What `dijkwacht detect` does per line, with output to memory."""
    sink = io.BytesIO()
    rules = ruleset.rules
    loads, dumps = orjson.loads, orjson.dumps
    count = 0
    for offset in range(0, len(lines), BATCH_SIZE):
        chunk = lines[offset : offset + BATCH_SIZE]
        events = [loads(line) for line in chunk]
        out = []
        for index, number in ruleset.match_pairs(events, start=offset):
            info = rules[number]
            out.append(dumps({"rule_id": info.rule_id, "title": info.title, "line": index + 1}))
            count += 1
        sink.write(b"\n".join(out))
    return count


def copied_rules(target: Path, count: int) -> None:
    """``count`` rules cycling through the corpus rules, each with a fresh id."""
    sources = sorted((CORPUS / "rules").rglob("*.yml"))
    for number in range(count):
        source = sources[number % len(sources)]
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
        document["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{source}#{number}"))
        document["title"] = f"{document['title']} (copy {number})"
        (target / f"rule_{number:05d}.yml").write_text(yaml.safe_dump(document), "utf-8")


def timed_load(path: Path) -> tuple[RuleSet, float]:
    """Load and compile, timed; then prepare the collector as `dijkwacht detect` does."""
    start = time.perf_counter()
    ruleset = load_rules(paths=[path], stacks=STACKS)
    took = time.perf_counter() - start
    prepare_gc()  # after loading, as the command does; the parse-only leg shares the process
    return ruleset, took


def hook_load(rules: Path, last_good: LastGood, cache: CompileCache) -> tuple[RuleSet, float]:
    """Load as the collector's detection hook does; seconds taken."""
    start = time.perf_counter()
    ruleset = load_rules(paths=[rules], stacks=WINDOWS_STACKS, last_good=last_good, cache=cache)
    return ruleset, time.perf_counter() - start


def compile_figures() -> dict[str, float | int | str | None]:
    """Cold load vs reloads and restarts of the SigmaHQ Windows set, as the hook loads it."""
    if not WINDOWS_RULES.is_dir():
        print(f"sigma-windows-rules not found at {WINDOWS_RULES}; compile figures skipped")
        return {}
    with tempfile.TemporaryDirectory() as tmp:  # mode 0700: a private cache directory
        rules, folder = Path(tmp) / "rules", Path(tmp) / "cache"
        shutil.copytree(WINDOWS_RULES, rules)
        last_good, cache = LastGood(), CompileCache(folder)
        cold_set, cold = hook_load(rules, last_good, cache)
        count, compiled = len(cold_set.rules), len(cold_set.engine.compiled)
        _, unchanged = hook_load(rules, last_good, cache)
        edited = sorted(rules.rglob("*.yml"))[count // 2]
        edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", "utf-8")
        one_set, one_rule = hook_load(rules, last_good, cache)
        assert len(one_set.engine.compiled) == compiled
        # A restart has nothing of the old process: drop the loaded sets (their millions of
        # objects would make every garbage collection during the restart walk them too).
        del cold_set, one_set, last_good, cache
        gc.collect()
        restarted = CompileCache(folder)
        restart_set, restart = hook_load(rules, LastGood(), restarted)
        assert len(restart_set.engine.compiled) == compiled
        assert restarted.stats["compiled"] == 0, restarted.stats  # all from disk
        del restart_set
        process = fresh_process_load(rules, folder)
        size = sum(entry.stat().st_size for entry in folder.iterdir())
    print(
        f"compile {count} SigmaHQ Windows rules x {len(WINDOWS_STACKS)} stacks "
        f"-> {compiled}: cold {cold:.2f} s, reload unchanged "
        f"{unchanged:.3f} s, reload one edited rule {one_rule:.3f} s, restart from disk "
        f"{restart:.3f} s (fresh process {process:.3f} s), cache {size / 1e6:.1f} MB"
    )
    return {
        "compile_rules": count,
        "compile_compiled": compiled,
        "compile_cold_s": round(cold, 3),
        "compile_reload_unchanged_s": round(unchanged, 3),
        "compile_reload_one_rule_s": round(one_rule, 3),
        "compile_restart_s": round(restart, 3),
        "compile_restart_fresh_process_s": round(process, 3),
        "compile_reload_ratio": round(one_rule / cold, 4),
        "compile_restart_ratio": round(restart / cold, 4),
        "compile_restart_fresh_process_ratio": round(process / cold, 4),
        "compile_target_ratio": 0.1,
        "compile_target": "restart (fresh process) <= 0.1 x cold",
        "compile_cache_mb": round(size / 1e6, 1),
    }


def fresh_process_load(rules: Path, folder: Path) -> float:
    """Seconds a new Python process takes to load the rules from the disk cache (no imports)."""
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]);"
        "from pathlib import Path;"
        "from bench.detect import hook_load;"
        "from detection.loader import LastGood;"
        "from detection.service import CompileCache;"
        "cache = CompileCache(Path(sys.argv[3]));"
        "_, took = hook_load(Path(sys.argv[2]), LastGood(), cache);"
        "assert cache.stats['compiled'] == 0, cache.stats;"
        "print(took)"
    )
    found = subprocess.run(
        [sys.executable, "-c", code, str(REPO_ROOT), str(rules), str(folder)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(found.stdout.strip().splitlines()[-1])


def main() -> None:
    if "--compile-only" in sys.argv[1:]:
        figures = compile_figures()
        if figures:
            restart, cold = figures["compile_restart_fresh_process_s"], figures["compile_cold_s"]
            assert isinstance(restart, float) and isinstance(cold, float)
            summary = {
                "metric": "compile_restart_s_vs_cold",
                "value": restart,
                "baseline": cold,
                "ratio": round(restart / cold, 4),
                "target": 0.1,
                **figures,
            }
            print(orjson.dumps(summary).decode())
        return
    if not (CORPUS / "events.jsonl").is_file():
        print(f"sigma-dev corpus not found at {CORPUS}; nothing to measure")
        return
    lines = (CORPUS / "events.jsonl").read_bytes().splitlines() * REPEAT
    events = len(lines)
    print(f"events: {events} lines ({REPEAT}x {CORPUS / 'events.jsonl'})")

    ruleset, load_s = timed_load(CORPUS / "rules")
    compiled = len(ruleset.engine.compiled)
    print(
        f"load+compile {len(ruleset.rules)} rules x {len(STACKS)} stacks"
        f" -> {compiled}: {load_s:.2f} s"
    )
    matches = engine_pipeline(ruleset, lines)  # also builds the index's lazy plans once
    parse_s, engine_s = interleaved(
        lambda: parse_only(lines), lambda: engine_pipeline(ruleset, lines)
    )
    baseline = events / parse_s
    value = events / engine_s
    print(f"orjson parse only:          {baseline:>10,.0f} events/s  ({parse_s:.3f} s)")
    print(
        f"engine (parse+match+emit):  {value:>10,.0f} events/s"
        f"  ({engine_s:.3f} s, {matches} matches)"
    )
    print(f"index: {ruleset.engine.index.stats}")

    zircolite: float | None = None
    if importlib.util.find_spec("zircolite") is None:
        print(
            "zircolite: not installed (not a dependency); skipped."
            " README reference: ~3,090 events/s"
        )
    else:  # pragma: no cover - only on machines where someone installed it
        print("zircolite: importable, but no in-process API to time fairly; skipped")

    scaling: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in (100, 500, 2000):
            folder = Path(tmp) / str(count)
            folder.mkdir()
            copied_rules(folder, count)
            scaled, scaled_load = timed_load(folder)
            engine_pipeline(scaled, lines)
            seconds = median_time(functools.partial(engine_pipeline, scaled, lines), runs=3)
            scaling[str(count)] = {
                "events_per_s": round(events / seconds),
                "compiled": len(scaled.engine.compiled),
                "load_s": round(scaled_load, 2),
            }
            print(
                f"{count:>5} rules ({len(scaled.engine.compiled)} compiled): "
                f"{events / seconds:>10,.0f} events/s, load {scaled_load:.2f} s"
            )
    slowdown = scaling["100"]["events_per_s"] / scaling["2000"]["events_per_s"]
    print(f"20x the rules costs {slowdown:.1f}x the time (linear would be 20x)")

    result = {
        "metric": "detect_events_per_s_vs_parse_only",
        "value": round(value),
        "baseline": round(baseline),
        "ratio": round(value / baseline, 3),
        "target": 0.25,
        "rules": len(ruleset.rules),
        "compiled_rules": compiled,
        "load_compile_s": round(load_s, 2),
        "matches": matches,
        "zircolite_events_per_s": zircolite,
        "zircolite_reference_events_per_s": 3090,
        "rules_scaling": scaling,
        "slowdown_100_to_2000_rules": round(slowdown, 2),
        **compile_figures(),
    }
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
