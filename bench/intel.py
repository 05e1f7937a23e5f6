"""Benchmark: events/s through the streaming detection path with 100,000 active indicators
loaded vs. with none, in the same run.

Run with ``.venv/bin/python bench/intel.py``. The path per batch is what the collector's
detection hook does for matching: the shipped Sigma rule pack (``RuleSet.match_batch``) and then
the intel matcher (``intel.matcher.Matcher.match``). The baseline runs the same with an empty
matcher (no indicators: no field is read). Indicators: 100,000 across every type (addresses,
CIDR ranges of five prefix lengths, domains, URLs, hashes, e-mail addresses, user agents);
events: 40,000 synthetic network, DNS, web, mail and file events of which about 1% hit an
indicator. The two legs are interleaved ``RUNS`` times and each figure is a median, so a busy
machine slows both alike; an extra "paired" ratio runs both legs on each batch in turn, so
load that drifts between whole legs cannot move it. Times are the process's CPU time
(``time.process_time``): on a shared two-core machine wall time mostly measures the
neighbours (both legs read 3-5x slower under load while their CPU time holds). The last line
is one JSON object for tooling.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from detection.service import load_rules  # noqa: E402
from intel.matcher import IndicatorContext, Matcher  # noqa: E402

INDICATORS = 100_000
EVENTS = 40_000
BATCH = 500
RUNS = 5
NOW = datetime(2026, 12, 7, tzinfo=UTC)


def _ip(rng: random.Random) -> str:
    return (
        f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    )


def _domain(rng: random.Random) -> str:
    return f"{rng.getrandbits(40):x}.{rng.choice(['com', 'net', 'example', 'nl', 'ru'])}"


def indicators(rng: random.Random) -> list[IndicatorContext]:
    made: list[tuple[str, str]] = []
    for _ in range(40_000):
        made.append(("ipv4", _ip(rng)))
    for index in range(5_000):
        prefix = (16, 20, 24, 28, 30)[index % 5]
        base = rng.getrandbits(32) & (0xFFFFFFFF << (32 - prefix))
        made.append(
            ("cidr", f"{base >> 24}.{base >> 16 & 255}.{base >> 8 & 255}.{base & 255}/{prefix}")
        )
    for _ in range(30_000):
        made.append(("domain", _domain(rng)))
    for _ in range(10_000):
        made.append(("url", f"http://{_domain(rng)}/{rng.getrandbits(32):x}"))
    for _ in range(10_000):
        made.append(("sha256", f"{rng.getrandbits(256):064x}"))
    for _ in range(4_000):
        made.append(("email", f"{rng.getrandbits(24):x}@{_domain(rng)}"))
    for index in range(INDICATORS - len(made)):
        made.append(("user_agent", f"EvilBot/{index}.{rng.getrandbits(16)}"))
    return [
        IndicatorContext(
            id=index,
            type=kind,
            value=value,
            source="bench",
            confidence=80,
            score=80.0,
            tlp="amber",
            techniques=(),
            group_key=None,
            first_seen=NOW,
            last_seen=NOW,
            active_until=NOW + timedelta(days=30),
        )
        for index, (kind, value) in enumerate(made)
    ]


def events(rng: random.Random, known: list[IndicatorContext]) -> list[dict[str, object]]:
    ips = [c.value for c in known if c.type == "ipv4"]
    domains = [c.value for c in known if c.type == "domain"]
    out: list[dict[str, object]] = []
    for index in range(EVENTS):
        hit = index % 100 == 0
        kind = index % 5
        event: dict[str, object] = {
            "@timestamp": "2026-12-07T10:00:00Z",
            "event": {"kind": "event", "dataset": "bench", "original": "x"},
            "host": {"name": f"ws-{index % 300}"},
        }
        if kind == 0:
            event["source"] = {"ip": f"10.0.{index % 250}.{index % 200 + 1}", "port": 51515}
            event["destination"] = {"ip": rng.choice(ips) if hit else _ip(rng), "port": 443}
            event["event"]["category"] = ["network"]  # type: ignore[index]
        elif kind == 1:
            name = f"www.{rng.choice(domains)}" if hit else f"www.{_domain(rng)}"
            event["dns"] = {"question": {"name": name, "type": "A"}}
            event["source"] = {"ip": f"10.0.1.{index % 200 + 1}"}
        elif kind == 2:
            event["url"] = {"full": f"https://{_domain(rng)}/index.html", "domain": _domain(rng)}
            event["user_agent"] = {"original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"}
            event["source"] = {"ip": _ip(rng)}
            event["http"] = {"response": {"status_code": 200}}
        elif kind == 3:
            event["email"] = {
                "from": {"address": f"x{index}@{_domain(rng)}"},
                "to": {"address": ["a@gemeente.nl"]},
            }
        else:
            event["file"] = {"hash": {"sha256": f"{rng.getrandbits(256):064x}"}, "path": "C:/x.exe"}
            event["process"] = {"name": "explorer.exe"}
        out.append(orjson.loads(orjson.dumps(event)))  # plain dicts as the store hands them
    return out


def main() -> None:
    rng = random.Random(7)
    contexts = indicators(rng)
    started = time.process_time()
    loaded = Matcher(contexts)
    build_s = time.process_time() - started
    empty = Matcher(())
    stream = events(rng, contexts)
    batches = [stream[i : i + BATCH] for i in range(0, len(stream), BATCH)]
    rules = load_rules(paths=[REPO_ROOT / "detection" / "rules"], stacks=["none"])

    def run(matcher: Matcher) -> tuple[float, int]:
        gc.collect()
        hits = 0
        start = time.process_time()
        for batch in batches:
            rules.match_batch(batch)
            hits += len(matcher.match(batch))
        return time.process_time() - start, hits

    def intel_only(matcher: Matcher) -> float:
        start = time.process_time()
        for batch in batches:
            matcher.match(batch)
        return time.process_time() - start

    def paired() -> float:
        """Both legs on each batch in turn, the first alternating: a ratio that the load
        drifting between whole legs does not move (an extra figure, not the headline)."""
        gc.collect()
        spent = {id(empty): 0.0, id(loaded): 0.0}
        for number, batch in enumerate(batches):
            for matcher in (empty, loaded) if number % 2 else (loaded, empty):
                start = time.process_time()
                rules.match_batch(batch)
                matcher.match(batch)
                spent[id(matcher)] += time.process_time() - start
        return spent[id(empty)] / spent[id(loaded)]

    with_s, without_s, alone_s, paired_ratios = [], [], [], []
    hits = 0
    for _ in range(RUNS):
        seconds, _ = run(empty)
        without_s.append(seconds)
        seconds, hits = run(loaded)
        with_s.append(seconds)
        alone_s.append(intel_only(loaded))
        paired_ratios.append(paired())
    baseline = EVENTS / statistics.median(without_s)
    value = EVENTS / statistics.median(with_s)
    print(
        f"rules in the pack: {len(rules.rules)}; indicators: {len(loaded)}"
        f" (matcher built in {build_s:.2f} s)"
    )
    print(f"hits per pass: {hits} of {EVENTS} events")
    print(f"stream with none: {baseline:,.0f} events/s")
    print(f"stream with {INDICATORS:,}: {value:,.0f} events/s")
    print(f"intel matcher alone: {EVENTS / statistics.median(alone_s):,.0f} events/s")
    print(
        f"paired ratio (legs alternating per batch): {statistics.median(paired_ratios):.3f}"
        f" (runs: {', '.join(f'{ratio:.3f}' for ratio in paired_ratios)})"
    )
    print(
        orjson.dumps(
            {
                "metric": "events_per_s_stream_100k_indicators",
                "value": round(value),
                "baseline": round(baseline),
                "ratio": round(value / baseline, 3),
                "target": 0.8,
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
